"""Applications built on the model interface: anomaly detection."""
