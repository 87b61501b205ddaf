"""The SynthVol main window: Dataset, Training and Gallery panels, menus, status bar, log."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, Qt, QUrl, Slot
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QWidget,
)

from engine import __version__
from engine.resources import DEMO_DATASET
from engine.training.run_folder import TrainingRun
from gui import settings as st
from gui.dialogs.help import show_about, show_shortcuts
from gui.panels.dataset_panel import DatasetPanel
from gui.panels.gallery_panel import GalleryPanel
from gui.panels.runs_panel import RunsPanel
from gui.panels.training_panel import TrainingPanel
from gui.widgets.log_view import LogView, QtLogHandler

log = logging.getLogger(__name__)
PANELS = ("dataset", "training", "gallery", "runs")


class MainWindow(QMainWindow):
    def __init__(self) -> None:
        super().__init__()
        self.setWindowTitle("SynthVol")
        self.setAcceptDrops(True)
        self.settings = st.app_settings()
        self._file_handler: logging.Handler | None = None

        self.dataset_panel = DatasetPanel(self)
        self.training_panel = TrainingPanel(self)
        self.gallery_panel = GalleryPanel(self)
        self.runs_panel = RunsPanel(self)
        self.panels = {"dataset": self.dataset_panel, "training": self.training_panel, "gallery": self.gallery_panel,
                       "runs": self.runs_panel}

        self.nav = QListWidget(self)
        self.nav.setObjectName("navigation")
        self.nav.setFixedWidth(150)
        for i, (name, text) in enumerate((("dataset", "1  Dataset"), ("training", "2  Training"), ("gallery", "3  Gallery"),
                                                  ("runs", "4  Runs"))):
            item = QListWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, name)
            item.setToolTip(f"{text.split()[1]} (Ctrl+{i + 1})")
            self.nav.addItem(item)
        self.nav.setStyleSheet("QListWidget#navigation { font-size: 14px; } QListWidget#navigation::item { padding: 12px 8px; }")
        self.stack = QStackedWidget(self)
        for name in PANELS:
            self.stack.addWidget(self.panels[name])
        self.nav.currentRowChanged.connect(self.stack.setCurrentIndex)

        central = QWidget(self)
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self._build_log_dock()
        self._build_status_bar()
        self._build_menus()
        self._connect_panels()
        self.nav.setCurrentRow(0)
        self._restore_state()

    # ------------------------------------------------------------------ building
    def _build_log_dock(self) -> None:
        self.log_view = LogView(self)
        self.log_dock = QDockWidget("Log", self)
        self.log_dock.setObjectName("logDock")
        self.log_dock.setWidget(self.log_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.log_dock)
        self.log_dock.hide()
        self.log_handler = QtLogHandler()
        self.log_view.connect_handler(self.log_handler)
        root = logging.getLogger()
        root.addHandler(self.log_handler)
        if root.level > logging.INFO or root.level == logging.NOTSET:
            root.setLevel(logging.INFO)
        try:
            self._file_handler = logging.FileHandler(st.log_file(), encoding="utf-8")
            self._file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            root.addHandler(self._file_handler)
        except OSError as exc:
            log.warning("cannot write the log file: %s", exc)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_operation = QLabel("Ready", self)
        self.status_device = QLabel("", self)
        self.status_state = QLabel("●  ready", self)
        self.status_state.setStyleSheet("color: #6c6;")
        bar.addWidget(self.status_operation, 1)
        bar.addPermanentWidget(self.status_device)
        bar.addPermanentWidget(self.status_state)
        self.status_device.setText(self.training_panel.device_summary())

    def _build_menus(self) -> None:
        m = self.menuBar()
        file_menu = m.addMenu("&File")
        self.act_open = self._action("Open dataset…", QKeySequence.StandardKey.Open, self.choose_dataset)
        self.act_demo = self._action("Open the demo dataset", None, self.open_demo)
        self.act_open_run = self._action("Open run…", QKeySequence("Ctrl+Shift+O"), self.choose_run)
        file_menu.addAction(self.act_open)
        file_menu.addAction(self.act_demo)
        self.recent_menu = file_menu.addMenu("Recent datasets")
        file_menu.addAction(self.act_open_run)
        file_menu.addSeparator()
        self.act_quit = self._action("Quit", QKeySequence.StandardKey.Quit, self.close)
        file_menu.addAction(self.act_quit)
        self._refresh_recent()

        view = m.addMenu("&View")
        for i, name in enumerate(PANELS):
            act = self._action(name.capitalize(), QKeySequence(f"Ctrl+{i + 1}"), self._show_panel_of_action)
            act.setData(i)
            view.addAction(act)
        view.addSeparator()
        self.act_log = self.log_dock.toggleViewAction()
        self.act_log.setText("Log")
        self.act_log.setShortcut(QKeySequence("Ctrl+0"))
        view.addAction(self.act_log)
        self.act_dark = self._action("Dark theme", None, self._toggle_theme)
        self.act_dark.setCheckable(True)
        self.act_dark.setChecked(st.read_bool(self.settings, "ui/dark", True))
        view.addAction(self.act_dark)

        help_menu = m.addMenu("&Help")
        help_menu.addAction(self._action("Keyboard shortcuts", QKeySequence.StandardKey.HelpContents, self._show_shortcuts))
        help_menu.addAction(self._action("Open the log file", None, self._open_log_file))
        help_menu.addAction(self._action("About SynthVol", None, self._show_about))

    def _action(self, text, shortcut, slot) -> QAction:
        act = QAction(text, self)
        if shortcut is not None:
            act.setShortcut(shortcut)
        act.triggered.connect(slot)
        return act

    def _connect_panels(self) -> None:
        for panel in self.panels.values():
            panel.statusMessage.connect(self.show_status)
            panel.busyChanged.connect(self._on_busy_changed)
        self.dataset_panel.datasetLoaded.connect(self.training_panel.set_dataset)
        self.dataset_panel.datasetLoaded.connect(self._on_dataset_loaded)
        self.dataset_panel.openDemoRequested.connect(self.open_demo)
        self.dataset_panel.openDatasetRequested.connect(self.choose_dataset)
        self.dataset_panel.trainRequested.connect(self._show_training)
        self.training_panel.runChanged.connect(self.gallery_panel.set_run)
        self.training_panel.runChanged.connect(self._remember_run)
        self.training_panel.runChanged.connect(self.runs_panel.note_run)
        self.runs_panel.openRequested.connect(self.open_run)
        self.runs_panel.resumeRequested.connect(self.resume_run)
        self.training_panel.deviceChanged.connect(self._show_device)

    # ------------------------------------------------------------------ actions
    @Slot()
    def _show_panel_of_action(self) -> None:
        self.nav.setCurrentRow(int(self.sender().data()))

    @Slot()
    def _show_training(self) -> None:
        self.nav.setCurrentRow(1)

    @Slot()
    def _show_shortcuts(self) -> None:
        show_shortcuts(self)

    @Slot()
    def _show_about(self) -> None:
        show_about(self)

    @Slot()
    def choose_dataset(self) -> None:
        start = st.read_list(self.settings, "recent/datasets")
        folder = QFileDialog.getExistingDirectory(self, "Open dataset folder", start[0] if start else str(Path.home()))
        if folder:
            self.open_dataset(Path(folder))

    @Slot()
    def open_demo(self) -> None:
        self.open_dataset(DEMO_DATASET)

    def open_dataset(self, folder: Path) -> None:
        folder = Path(folder)
        self.nav.setCurrentRow(0)
        self.dataset_panel.open_dataset(folder)

    @Slot()
    def choose_run(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open training run folder", str(st.default_runs_dir()))
        if folder:
            self.open_run(Path(folder))

    @Slot(object)
    def open_run(self, folder: Path) -> None:
        if self.training_panel.open_run(Path(folder)):
            self.nav.setCurrentRow(1)

    @Slot(object)
    def resume_run(self, folder: Path) -> None:
        """Open the run and go on training it (the Runs view's Resume)."""
        if self.training_panel.open_run(Path(folder)):
            self.nav.setCurrentRow(1)
            self.training_panel.start()

    @Slot(object)
    def _on_dataset_loaded(self, result) -> None:
        st.add_recent(self.settings, "recent/datasets", str(result.root))
        self._refresh_recent()

    @Slot(object)
    def _remember_run(self, folder) -> None:
        if folder:
            self.settings.setValue("recent/run", str(folder))

    def _refresh_recent(self) -> None:
        self.recent_menu.clear()
        items = [p for p in st.read_list(self.settings, "recent/datasets") if Path(p).exists()]
        for path in items:
            act = self.recent_menu.addAction(path)
            act.setData(path)
            act.triggered.connect(self._open_recent)
        self.recent_menu.setEnabled(bool(items))

    @Slot()
    def _open_recent(self) -> None:
        self.open_dataset(Path(str(self.sender().data())))

    @Slot(str)
    def _show_device(self, text: str) -> None:
        """The device training runs on, as the engine reports it (cut short here, whole in the tooltip)."""
        shown = text if len(text) <= 64 else text[:63] + "…"
        self.status_device.setText(f"Device: {shown}")
        self.status_device.setToolTip(f"Training runs on: {text}")

    @Slot(str)
    def show_status(self, text: str) -> None:
        self.status_operation.setText(text)

    @Slot(bool)
    def _on_busy_changed(self, _busy: bool) -> None:
        busy = any(p.is_busy() for p in self.panels.values())
        self.status_state.setText("●  busy" if busy else "●  ready")
        self.status_state.setStyleSheet("color: #e8a33c;" if busy else "color: #6c6;")

    def _toggle_theme(self) -> None:
        from gui.theme import apply_theme

        dark = self.act_dark.isChecked()
        self.settings.setValue("ui/dark", dark)
        apply_theme(QApplication.instance(), dark=dark)

    def _open_log_file(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(st.log_file())))

    # ------------------------------------------------------------------ drag and drop
    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() and any(Path(u.toLocalFile()).is_dir() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        for url in event.mimeData().urls():
            path = Path(url.toLocalFile())
            if path.is_dir():
                if TrainingRun(path).exists():
                    self.open_run(path)
                else:
                    self.open_dataset(path)
                event.acceptProposedAction()
                return

    # ------------------------------------------------------------------ state
    def _restore_state(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1400, 880)
        state = self.settings.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)

    def closeEvent(self, event) -> None:
        busy = [name for name, p in self.panels.items() if p.is_busy()]
        if busy:
            answer = QMessageBox.question(
                self, "Work in progress",
                f"{', '.join(n.capitalize() for n in busy)} is still running. Stop it and quit?\n"
                "Training writes a checkpoint when stopped, so it can be resumed.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,  # Enter keeps the work running
            )
            if answer != QMessageBox.StandardButton.Yes:
                event.ignore()
                return
            self.show_status("Stopping…")
            for panel in self.panels.values():
                panel.stop_and_wait()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        root = logging.getLogger()
        root.removeHandler(self.log_handler)
        if self._file_handler is not None:
            root.removeHandler(self._file_handler)
            self._file_handler.close()
        event.accept()

    @property
    def version(self) -> str:
        return __version__

    def panel_widget(self, name: str) -> QWidget:
        return self.panels[name]
