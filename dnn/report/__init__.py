"""Text tables, progress, plots and the results fit and modelEvaluate return."""
