"""The model-file format, atomic disk I/O and safe unpickling."""
