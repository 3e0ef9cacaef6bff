"""Drug discovery: molecule data, generation with the sequence models, properties and the MOSES metrics."""
