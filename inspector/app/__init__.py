"""The Qt-free app layer: what is open and what the user is looking at, and every analysis built on it.

Depends on `inspector.io` and `inspector.core` only; `inspector.ui` observes it.  Importable and fully
testable with PySide6 and pyqtgraph absent.  For scripts and notebooks::

    from inspector.app import open_model
    m = open_model("model.keras")
    for w in m.weights(): print(w.path, w.shape, w.gates)
    y = m.predict(x)            # == model.predict(x)
    tr = m.trace(x)             # h, c and every gate of every recurrent layer
    m.set_input(x); m.set_step(5); m.stepper.state()   # one step, as the GUI shows it
"""

from inspector.app.inputs import InputData, check_inputs, read_input_file
from inspector.app.state import AppState, WeightInfo, open_model

__all__ = ["AppState", "InputData", "WeightInfo", "check_inputs", "open_model", "read_input_file"]
