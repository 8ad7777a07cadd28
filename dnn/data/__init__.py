"""Inputs and targets: feature checks and scaling, sparse rows, target encoding, the tasks."""
