"""The DNN class and its parts: building, querying, the textbook methods, interop, the parameters."""
