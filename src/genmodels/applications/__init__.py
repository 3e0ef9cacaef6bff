"""Applications built on the model interface: anomaly detection and drug discovery (molecules)."""
