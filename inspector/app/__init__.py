"""The Qt-free app layer: what is open and what the user is looking at, and every analysis built on it.

Depends on `inspector.io` and `inspector.core` only; `inspector.ui` observes it.  Importable and fully
testable with PySide6 and pyqtgraph absent.
"""
