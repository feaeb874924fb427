"""Reference for start_s_over_qt: the least a PySide6 app does to show a window.

Same exit protocol as bench/start_app.py: on the first event-loop pass, paint the shown window
(synchronous repaint), print one line and leave without any teardown.
"""

import os
import sys

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMainWindow


def main() -> None:
    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle("bare")
    window.resize(1280, 800)
    window.show()

    def shown() -> None:
        window.repaint()
        print("window shown", flush=True)
        os._exit(0)

    QTimer.singleShot(0, shown)
    app.exec()


if __name__ == "__main__":
    main()
