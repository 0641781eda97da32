"""LungTumorSeg: automatic lung tumour segmentation in chest CT (3D Slicer scripted module).

The four standard classes stay thin. The work lives in small, Qt-free modules of
``LungTumorSegLib`` (tested headless against real MRML) and in the core library
``lungtumorseg``, which runs out of process so Slicer never freezes.
"""

import logging
from pathlib import Path

import ctk  # noqa: F401  (ctkSliderWidget etc. in the .ui)
import qt
import slicer
import vtk
from slicer.ScriptedLoadableModule import (ScriptedLoadableModule, ScriptedLoadableModuleLogic,
                                           ScriptedLoadableModuleTest, ScriptedLoadableModuleWidget)
from slicer.util import VTKObservationMixin
from slicer.parameterNodeWrapper import parameterNodeWrapper

from LungTumorSegLib import (dependencies, kept_probability, logic_core, model_packages, module_text, process_runner,
                             sample_data, segmentation_writer, widget_state)

MODULE_DIR = Path(__file__).resolve().parent


#
# Module
#


class LungTumorSeg(ScriptedLoadableModule):
    """Module description shown in Slicer (title, category, help, acknowledgement)."""

    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "Lung Tumor Segmentation"
        self.parent.categories = ["Segmentation"]
        self.parent.dependencies = []  # torch comes from the PyTorch extension, on first use
        self.parent.contributors = ["LungTumorSeg contributors"]
        self.parent.helpText = module_text.HELP_TEXT
        self.parent.acknowledgementText = module_text.ACKNOWLEDGEMENT_TEXT
        slicer.app.connect("startupCompleted()", lambda: sample_data.register(MODULE_DIR))


#
# Parameter node
#


@parameterNodeWrapper
class LungTumorSegParameterNode:
    """Everything the GUI edits; saved with the scene."""

    inputVolume: slicer.vtkMRMLScalarVolumeNode
    outputSegmentation: slicer.vtkMRMLSegmentationNode
    lesionTable: slicer.vtkMRMLTableNode
    modelPath: str = ""
    threshold: float = 0.5
    minLesionMm3: float = 0.0
    minPeakProbability: float = 0.0
    maxElongation: float = 0.0  # 0 = no limit (the spin box shows "no limit")
    maxMeanHu: float = 3000.0  # widget_state.NO_DENSITY_LIMIT_HU = no limit
    zoneLimits: bool = True  # the model card's zone limits (if any) on top of the general limits
    outlineGrowth: bool = True  # the model card's outline growth (if any) of the kept lesions
    candidateCheck: bool = True  # the model card's candidate classifier (if any) judges the candidates
    candidateCutoff: float = 0.5  # its cut-off; the card's unless changed (widget_state.candidate_cutoff_request)
    magnifiedLook: bool = True  # the model card's magnified second look (if any) for small nodules
    zoneOverlapMm: float = 15.0
    threads: int = 0
    show3D: bool = True
    keepProbability: bool = True
    autoUpdate: bool = True
    showProbability: bool = False


#
# Widget
#


class LungTumorSegWidget(ScriptedLoadableModuleWidget, VTKObservationMixin):
    """Bindings from the .ui to the parameter node; a timer drives a running segmentation."""

    def __init__(self, parent=None) -> None:
        ScriptedLoadableModuleWidget.__init__(self, parent)
        VTKObservationMixin.__init__(self)
        self.logic = None
        self._parameterNode = None
        self._parameterNodeGuiTag = None
        self._run = None
        self._modelProblems = {}  # package folder -> why its weights cannot be used ("" = verified)
        self._timer = qt.QTimer()
        self._timer.setInterval(200)
        self._timer.timeout.connect(self._pollRun)
        # Automatic "Update lesions": one update half a second after the last change of the operating point.
        self._lastOperatingPoint, self._autoUpdateTimer = None, qt.QTimer()
        self._autoUpdateTimer.singleShot, self._autoUpdateTimer.interval = True, 500
        self._autoUpdateTimer.timeout.connect(self._autoUpdate)

    def setup(self) -> None:
        ScriptedLoadableModuleWidget.setup(self)
        uiWidget = slicer.util.loadUI(self.resourcePath("UI/LungTumorSeg.ui"))
        self.layout.addWidget(uiWidget)
        self.ui = slicer.util.childWidgetVariables(uiWidget)
        uiWidget.setMRMLScene(slicer.mrmlScene)
        self.logic = LungTumorSegLogic()

        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.StartCloseEvent, self.onSceneStartClose)
        self.addObserver(slicer.mrmlScene, slicer.mrmlScene.EndCloseEvent, self.onSceneEndClose)
        self.ui.applyButton.connect("clicked(bool)", self.onApplyButton)
        self.ui.modelComboBox.connect("currentIndexChanged(int)", self.onModelSelected)
        self.ui.installFromFolderButton.connect("clicked(bool)", self.onInstallFromFolder)
        self.ui.installFromUrlButton.connect("clicked(bool)", self.onInstallFromUrl)
        self.ui.inputSelector.connect("currentNodeChanged(vtkMRMLNode*)", lambda _node: self._updateApplyState())
        self.ui.updateLesionsButton.connect("clicked(bool)", self.onUpdateLesions)
        self.ui.showProbabilityCheckBox.connect("toggled(bool)", self.onShowProbability)
        self.ui.show3DCheckBox.connect("toggled(bool)", self.onShow3D)

        self._fillModelCombo()
        self.initializeParameterNode()

    def cleanup(self) -> None:
        self._autoUpdateTimer.stop()
        self._cancelRun()
        self.removeObservers()

    def enter(self) -> None:
        self.initializeParameterNode()

    def exit(self) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self._parameterNodeGuiTag = None
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)

    def onSceneStartClose(self, caller, event) -> None:
        self._cancelRun()
        self.setParameterNode(None)

    def onSceneEndClose(self, caller, event) -> None:
        if self.parent.isEntered:
            self.initializeParameterNode()

    def initializeParameterNode(self) -> None:
        self.setParameterNode(self.logic.getParameterNode())
        if not self._parameterNode.inputVolume:
            first = slicer.mrmlScene.GetFirstNodeByClass("vtkMRMLScalarVolumeNode")
            if first and not first.IsA("vtkMRMLLabelMapVolumeNode"):
                self._parameterNode.inputVolume = first

    def setParameterNode(self, inputParameterNode) -> None:
        if self._parameterNode:
            self._parameterNode.disconnectGui(self._parameterNodeGuiTag)
            self.removeObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
        self._parameterNode = inputParameterNode
        if self._parameterNode:
            self._parameterNodeGuiTag = self._parameterNode.connectGui(self.ui)
            self.addObserver(self._parameterNode, vtk.vtkCommand.ModifiedEvent, self._onParameterNodeModified)
            self._selectModel(self._parameterNode.modelPath)
            self._lastOperatingPoint = widget_state.operating_point(self._parameterNode)
        self._updateApplyState()

    # -- model packages ------------------------------------------------------------------
    def _fillModelCombo(self, select: str = "") -> None:
        self._packages, self._modelProblems = model_packages.list_packages(), {}
        combo = self.ui.modelComboBox
        combo.blockSignals(True)
        combo.clear()
        for package in self._packages:
            combo.addItem(package.label, str(package.path))
            combo.setItemData(combo.count - 1, widget_state.package_tooltip(package), qt.Qt.ToolTipRole)
        combo.blockSignals(False)
        self._selectModel(select)

    def _selectModel(self, path: str) -> None:
        combo = self.ui.modelComboBox
        index = combo.findData(path) if path else -1
        combo.setCurrentIndex(index if index >= 0 else (0 if combo.count else -1))
        self.onModelSelected(combo.currentIndex)

    def _currentPackage(self):
        index = self.ui.modelComboBox.currentIndex
        return self._packages[index] if 0 <= index < len(self._packages) else None

    def onModelSelected(self, index: int) -> None:
        package = self._currentPackage()
        if self._parameterNode and package and self._parameterNode.modelPath != str(package.path):
            for name, value in widget_state.card_defaults(package).items():  # defaults from the model card
                setattr(self._parameterNode, name, value)
        if package and str(package.path) not in self._modelProblems:  # checksums once per package and session
            self._modelProblems[str(package.path)] = model_packages.weight_problem(package.path)
        for name, (enabled, tooltip) in widget_state.card_check_boxes(package).items():
            getattr(self.ui, name).enabled, getattr(self.ui, name).toolTip = enabled, tooltip
        self.ui.modelWarningLabel.text = package.warning if package else ""
        self.ui.modelWarningLabel.visible = bool(package and package.warning)
        self.ui.modelAccuracyLabel.text = package.accuracy if package else ""
        self._updateApplyState()

    def onInstallFromFolder(self) -> None:
        folder = qt.QFileDialog.getExistingDirectory(self.parent, "Select a model package folder")
        if not folder:
            return
        self._install("Could not install the model package.",
                      lambda overwrite: model_packages.install_from_folder(folder, overwrite=overwrite))

    def onInstallFromUrl(self) -> None:
        url = qt.QInputDialog.getText(self.parent, "Install model package", "URL of a zipped model package:")
        if not url:
            return
        checksum = qt.QInputDialog.getText(self.parent, "Install model package",
                                           "SHA-256 published with the zip (recommended; empty: not checked):")
        dialog = slicer.util.createProgressDialog(self.parent, 0, 100, f"Downloading {url}", "Install model package")
        try:  # the dialog's Cancel stops the download: install_from_url then returns None, nothing installed
            self._install("Could not download or install the model package.",
                          lambda overwrite: model_packages.install_from_url(
                              url, overwrite=overwrite, sha256=checksum.strip() or None,
                              progress=lambda done, total: self._onDownloadProgress(dialog, done, total),
                              should_cancel=lambda: dialog.wasCanceled))
        finally:
            dialog.close()

    def _onDownloadProgress(self, dialog, done: int, total: int) -> None:
        dialog.value = int(100 * done / total) if total > 0 else 0
        slicer.app.processEvents()

    def _install(self, failure: str, install) -> None:
        """Run ``install(overwrite)``; if a package of that name is installed, ask before replacing it."""
        with slicer.util.tryWithErrorDisplay(failure, waitCursor=True):
            try:
                package = install(False)
            except model_packages.AlreadyInstalled as exc:
                if not slicer.util.confirmYesNoDisplay(f"{exc}\n\nReplace the installed package?",
                                                       "Model package already installed"):
                    return
                package = install(True)
            if package is not None:  # None: the user cancelled the download
                self._fillModelCombo(select=str(package.path))

    # -- state -----------------------------------------------------------------------------
    def _inputInfo(self) -> widget_state.InputInfo:
        node = self._parameterNode.inputVolume if self._parameterNode else None
        modality = widget_state.dicom_modality(node, getattr(slicer, "dicomDatabase", None))
        return widget_state.input_info(node, modality=modality)

    def _modelInfo(self) -> widget_state.ModelInfo:
        package = self._currentPackage()
        if package is None:
            return widget_state.ModelInfo(present=False)
        return widget_state.ModelInfo(present=True, name=package.name, demo=package.demo,
                                      error=self._modelProblems.get(str(package.path), ""))

    def _updateApplyState(self, caller=None, event=None) -> None:
        running = self._run is not None
        enabled, tooltip = widget_state.apply_state(self._inputInfo(), self._modelInfo(), running,
                                                    tuple(dependencies.missing_packages()))
        self.ui.applyButton.enabled = enabled
        self.ui.applyButton.toolTip = tooltip
        self.ui.applyButton.text = widget_state.apply_button_text(running)
        output = self._parameterNode.outputSegmentation if self._parameterNode else None
        enabled, tooltip = widget_state.update_lesions_state(kept_probability.kept_run(output) is not None, running)
        self.ui.updateLesionsButton.enabled = enabled
        self.ui.updateLesionsButton.toolTip = tooltip
        for widget in (self.ui.inputSelector, self.ui.modelComboBox, self.ui.outputSelector,
                       self.ui.advancedCollapsibleButton):
            widget.enabled = not running

    # -- running -----------------------------------------------------------------------------
    def onApplyButton(self) -> None:
        if self._run is not None:
            self._cancelRun()
            self._onLog("Cancelled; the scene was left unchanged.")
            return
        if not self.logic.ensureDependencies():
            return
        p = self._parameterNode
        self.ui.logTextEdit.clear()
        try:
            self._run = self.logic.startRun(p, onProgress=self._onProgress, onLog=self._onLog)
        except Exception as exc:  # export or process start failed: nothing changed in the scene
            self._run = None
            slicer.util.errorDisplay(f"Could not start the segmentation: {exc}")
            return
        self._timer.start()
        self._updateApplyState()

    def _pollRun(self) -> None:
        try:
            result = self._run.poll()
        except process_runner.Cancelled:
            self._finishRun()
            return
        except Exception as exc:
            self._finishRun()
            self._onLog(f"error: {exc}")
            self.ui.statusLabel.text = "Failed; the scene was left unchanged."
            slicer.util.errorDisplay(f"Lung tumour segmentation failed:\n{exc}")
            return
        if result is None:
            return
        self._finishRun()
        self.logic.adoptResult(self._parameterNode, result)
        summary = widget_state.report_summary(result.report, result.lesions, result.elapsed_s,
                                              result.report.get("status", "ok"))
        self.ui.statusLabel.text = summary
        self._onLog(summary)
        self.ui.lesionTableView.setMRMLTableNode(result.table_node)
        slicer.util.setSliceViewerLayers(background=self._parameterNode.inputVolume)
        self.onShowProbability(self._parameterNode.showProbability)

    def onUpdateLesions(self) -> None:
        """New lesions from the kept probability map with the current threshold and filters."""
        if not self.logic.ensureDependencies():  # the candidate classifier needs torch and MONAI
            return
        with slicer.util.tryWithErrorDisplay("Could not update the lesions; they were left as they were.",
                                             waitCursor=True):
            result = self.logic.updateLesions(self._parameterNode)
            summary = "Updated from the kept probability map: " + widget_state.report_summary(
                result.report, result.lesions, result.elapsed_s)
            self.ui.statusLabel.text = summary
            self._onLog(summary)
            self.ui.lesionTableView.setMRMLTableNode(result.table_node)

    def _onParameterNodeModified(self, caller=None, event=None) -> None:
        self._updateApplyState()
        point = widget_state.operating_point(self._parameterNode)
        has_kept = kept_probability.kept_run(self._parameterNode.outputSegmentation) is not None
        if widget_state.auto_update_due(self._parameterNode.autoUpdate, has_kept, self._run is not None,
                                        self._lastOperatingPoint, point):
            self._autoUpdateTimer.start()  # restarts on every change: one update after the last
        self._lastOperatingPoint = point

    def _autoUpdate(self) -> None:
        if self._run is None and self._parameterNode is not None:
            self.onUpdateLesions()

    def onShowProbability(self, show: bool) -> None:
        if self._parameterNode and self._parameterNode.outputSegmentation:
            kept_probability.show_overlay(self._parameterNode.outputSegmentation, bool(show))

    def onShow3D(self, show: bool) -> None:
        """Show or hide the current output's lesions in 3D now (a run applies the setting too)."""
        output = self._parameterNode.outputSegmentation if self._parameterNode else None
        if output is not None and self._run is None:
            segmentation_writer.show_in_3d(output, bool(show))

    def _finishRun(self) -> None:
        self._timer.stop()
        self._run = None
        self._updateApplyState()

    def _cancelRun(self) -> None:
        if self._run is not None:
            self._run.cancel()
            self._finishRun()
            self.ui.progressBar.value = 0
            self.ui.statusLabel.text = "Cancelled."

    def _onProgress(self, fraction: float, stage: str) -> None:
        value, text = widget_state.progress_text(fraction, stage)
        self.ui.progressBar.value = value
        self.ui.statusLabel.text = text
        slicer.app.processEvents()

    def _onLog(self, line: str) -> None:
        self.ui.logTextEdit.appendPlainText(line)


#
# Logic
#


class LungTumorSegLogic(ScriptedLoadableModuleLogic):
    """MRML glue only: the run transaction is ``LungTumorSegLib.logic_core``."""

    def __init__(self) -> None:
        ScriptedLoadableModuleLogic.__init__(self)

    def getParameterNode(self):
        return LungTumorSegParameterNode(super().getParameterNode())

    @staticmethod
    def ensureDependencies(askConfirmation: bool = True) -> bool:
        """Make torch (PyTorch extension) and the pip packages importable; False if declined."""
        missing = dependencies.missing_packages()
        if not missing:
            return True
        if "torch" in missing:
            try:
                import PyTorchUtils
            except ModuleNotFoundError:
                slicer.util.errorDisplay("This module needs the PyTorch extension. "
                                         "Install it from the Extensions Manager and restart Slicer.")
                return False
            torchLogic = PyTorchUtils.PyTorchUtilsLogic()
            if not torchLogic.torchInstalled():
                if torchLogic.installTorch(askConfirmation=askConfirmation,
                                           torchVersionRequirement=dependencies.TORCH_REQUIREMENT) is None:
                    return False
        requirements = dependencies.pip_requirements(missing)
        if requirements:
            if askConfirmation and not slicer.util.confirmOkCancelDisplay(
                    "Lung tumour segmentation needs these Python packages, which will now be downloaded "
                    "and installed:\n\n" + "\n".join(requirements) + "\n\nThis can take a few minutes.",
                    "Install Python packages"):
                return False
            with slicer.util.tryWithErrorDisplay("Could not install the Python packages.", waitCursor=True):
                slicer.util.pip_install(" ".join(requirements))
        return not dependencies.missing_packages()

    @staticmethod
    def request(parameterNode) -> logic_core.RunRequest:
        """The run request described by the parameter node (0 means "card default"/"auto")."""
        p = parameterNode
        return logic_core.RunRequest(
            input_volume=p.inputVolume, model_dir=p.modelPath or None, threshold=p.threshold,
            min_lesion_mm3=p.minLesionMm3, min_peak_probability=p.minPeakProbability,
            max_elongation=widget_state.elongation_from_gui(p.maxElongation),
            max_mean_hu=widget_state.mean_hu_from_gui(p.maxMeanHu), zone_overlap_mm=p.zoneOverlapMm,
            threads=p.threads or None, segmentation_node=p.outputSegmentation, table_node=p.lesionTable,
            show3d=p.show3D, keep_probability=p.keepProbability, zone_limits=p.zoneLimits,
            outline_growth=p.outlineGrowth, candidate_check=p.candidateCheck, magnified_look=p.magnifiedLook,
            candidate_cutoff=widget_state.candidate_cutoff_request(
                p.candidateCutoff, logic_core.card_candidate_cutoff(p.modelPath or None), p.candidateCheck))

    @staticmethod
    def updateLesions(parameterNode) -> kept_probability.UpdateResult:
        """Lesions of the output segmentation re-derived from its kept probability map with the
        parameter node's threshold and filters (no inference); replaces segments and table rows.
        The run's card zone limits stay on top of the filters unless "zone limits" is unchecked, its
        card outline growth applies unless "grow outlines" is unchecked, and the run's package's candidate
        classifier (if any) judges the candidates at the panel's cut-off unless "candidate check" is unchecked."""
        p = parameterNode
        kept = kept_probability.kept_run(p.outputSegmentation)
        model = kept_probability.run_model_dir(kept.record if kept else None, p.modelPath or None)  # the run's
        rule = kept_probability.update_rule(
            kept.record if kept else None, logic_core.card_zone_limits(model), p.zoneLimits,
            min_lesion_mm3=p.minLesionMm3, min_peak_probability=p.minPeakProbability,
            max_elongation=widget_state.elongation_from_gui(p.maxElongation),
            max_mean_hu=widget_state.mean_hu_from_gui(p.maxMeanHu), outline_growth=p.outlineGrowth,
            package_outline_growth=logic_core.card_outline_growth(model))
        cutoff = widget_state.candidate_cutoff_request(p.candidateCutoff, logic_core.card_candidate_cutoff(model))
        result = kept_probability.update_lesions(p.outputSegmentation, p.threshold, rule, p.lesionTable,
                                                 terminology=logic_core.lesion_terminology(model),
                                                 check=logic_core.candidate_check(model, p.candidateCheck, cutoff))
        p.lesionTable = result.table_node
        return result

    def startRun(self, parameterNode, onProgress=None, onLog=None) -> logic_core.SegmentationRun:
        """Start a non-blocking run; poll it from a timer (see the Widget)."""
        run = logic_core.SegmentationRun(self.request(parameterNode), on_progress=onProgress, on_log=onLog,
                                         python=process_runner.python_executable())
        run.start()
        return run

    @staticmethod
    def adoptResult(parameterNode, result: logic_core.RunResult) -> None:
        """Remember the output nodes so a re-run replaces them instead of adding new ones."""
        parameterNode.outputSegmentation = result.segmentation_node
        parameterNode.lesionTable = result.table_node

    def process(self, inputVolume, outputSegmentation=None, modelPath=None, threshold=None,
                minLesionMm3=None, zoneOverlapMm=None, threads=None, show3D=False,
                timeoutSec=None) -> logic_core.RunResult:
        """Blocking run for scripts: ``slicer.util.getModuleLogic("LungTumorSeg").process(volume)``."""
        request = logic_core.RunRequest(input_volume=inputVolume, model_dir=modelPath, threshold=threshold,
                                        min_lesion_mm3=minLesionMm3, zone_overlap_mm=zoneOverlapMm,
                                        threads=threads, segmentation_node=outputSegmentation, show3d=show3D)
        run = logic_core.SegmentationRun(request, on_log=logging.info, python=process_runner.python_executable())
        return run.run(timeout_s=timeoutSec)


#
# Test
#


class LungTumorSegTest(ScriptedLoadableModuleTest):
    """Runs the same end-to-end scenario as the headless pytest suite."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        self.test_scenario()

    def test_scenario(self):
        from LungTumorSegLib.scenario import run_scenario

        self.delayDisplay("Segmenting the sample chest CT with the demo model")
        missing = dependencies.missing_packages()
        if missing:  # no network at test time: the self-test never installs anything itself
            self.fail("The Python packages " + ", ".join(missing) + " are missing. Open the LungTumorSeg module "
                      "and press Apply once (it offers to install them), then run the self-test again.")
        # software (segments, terminology, geometry, input unchanged) and the sample's accuracy
        # floor: every true tumour found, Dice >= 0.6 (synthetic phantom, not clinical accuracy)
        outcome = run_scenario(python=process_runner.python_executable(), log=logging.info)
        self.delayDisplay(f"Test passed: {len(outcome.result.lesions)} lesion(s), Dice {outcome.dice:.2f}")
