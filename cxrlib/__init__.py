"""cxrlib: the library under the cxr-reliability book."""

__version__ = "0.1.0"
