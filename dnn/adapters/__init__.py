"""scikit-learn, PyTorch, ONNX and the command line; the core never imports them."""
