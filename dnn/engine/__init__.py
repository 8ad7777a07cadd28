"""What fit runs: setup (validate, then commit), the loop and the step, the training state, monitors."""
