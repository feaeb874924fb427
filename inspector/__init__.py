"""Keras Weight Inspector: open any Keras recurrent model, see its gates, replay it exactly."""

__version__ = "0.1.0"
