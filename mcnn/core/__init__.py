"""Library core shared by the pipeline steps."""
