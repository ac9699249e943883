"""harness: an evaluation harness for code LLMs."""

__version__ = "0.1.0"
