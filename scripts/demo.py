"""Demo: segment the built-in example chest CT through the Slicer Logic on a real MRML scene.

Runs headless with Kitware's ``slicer-core`` wheel (real MRML, segmentations logic and
displayable managers; no Slicer application needed) and writes ``demo-output/``:

- ``<name>.seg.nrrd``            the segmentation (one segment per lesion, terminology, colours)
- ``<name>_lesions.nii.gz``     the lesion labelmap (exported from the segmentation)
- ``lesions.csv``, ``lesions.json``  the lesion table and the core's full report
- ``lesion<k>_{axial,coronal,sagittal}.png``  slice views through each lesion centre
- ``3d.png``                     3D view of the lesions with the lungs for context
- ``probability_axial.png``      the kept tumour probability map over the CT at lesion 1

For the built-in example it also compares the lesions with the phantom's truth and shows
how other operating points (threshold / lesion filter) change them, recomputed from the
kept probability map in about a second each instead of running the network again.

Usage: python scripts/demo.py [--input CT] [--output-dir demo-output] [--model DIR]
                              [--threads N] [--no-render] [--screenshots]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "LungTumorSeg"))
os.environ.setdefault("VTK_DEFAULT_OPENGL_WINDOW", "vtkEGLRenderWindow")


def _opengl_ok() -> bool:
    """Probe offscreen rendering in a child process (a failed Render() kills the process)."""
    import subprocess

    probe = ("import vtk; w=vtk.vtkRenderWindow(); w.SetOffScreenRendering(1); w.SetSize(8,8); "
             "w.AddRenderer(vtk.vtkRenderer()); w.Render(); print('OK')")
    try:
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return False
    return done.returncode == 0 and "OK" in done.stdout


def _save_outputs(env, volume, result, out: Path, name: str) -> list[Path]:
    import slicer

    from LungTumorSegLib import lesion_table

    written = []
    storage = slicer.vtkMRMLSegmentationStorageNode()
    storage.SetFileName(str(out / f"{name}.seg.nrrd"))
    if not storage.WriteData(result.segmentation_node):
        raise RuntimeError("could not write the .seg.nrrd file")
    written.append(out / f"{name}.seg.nrrd")

    labelmap = env.scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", f"{name} lesions")
    try:
        slicer.modules.segmentations.logic().ExportVisibleSegmentsToLabelmapNode(
            result.segmentation_node, labelmap, volume)
        writer = slicer.vtkMRMLVolumeArchetypeStorageNode()
        writer.SetFileName(str(out / f"{name}_lesions.nii.gz"))
        writer.SetUseCompression(True)
        if not writer.WriteData(labelmap):
            raise RuntimeError("could not write the labelmap NIfTI")
        written.append(out / f"{name}_lesions.nii.gz")
    finally:
        env.scene.RemoveNode(labelmap)

    written.append(lesion_table.write_csv(result.lesions, out / "lesions.csv"))
    (out / "lesions.json").write_text(json.dumps(result.report, indent=2) + "\n", encoding="utf-8")
    written.append(out / "lesions.json")
    return written


def _render(env, volume, result, out: Path, max_lesions: int = 3) -> list[Path]:
    import numpy as np
    import SimpleITK as sitk

    from LungTumorSegLib import rendering, segmentation_writer, volume_bridge

    pictures = []
    lesions = result.lesions[:max_lesions]
    centres = [(l["label"], [-l["centroid_lps_mm"][0], -l["centroid_lps_mm"][1], l["centroid_lps_mm"][2]])
               for l in lesions]
    if not centres:  # nothing found: show the middle of the volume
        bounds = [0.0] * 6
        volume.GetRASBounds(bounds)
        centres = [(0, [(bounds[0] + bounds[1]) / 2, (bounds[2] + bounds[3]) / 2, (bounds[4] + bounds[5]) / 2])]
    for label, centre in centres:
        for orientation in rendering.ORIENTATIONS:
            path = out / f"lesion{label}_{orientation.lower()}.png"
            rendering.render_slice(env.scene, env.app_logic, volume, result.segmentation_node, orientation,
                                   centre, path, size=(512, 512))
            pictures.append(path)

    # 3D: lesions plus a semi-transparent lung context segment (display only, removed after)
    image = volume_bridge.image_from_volume(volume)
    lungs = rendering.lung_context_mask(image)
    context = env.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "lung context")
    try:
        context.CreateDefaultDisplayNodes()
        lung_term = segmentation_writer.terminology_string(segmentation_writer.LUNG_CATEGORY,
                                                           segmentation_writer.LUNG_TYPE, None)
        empty = sitk.Image(image.GetSize(), sitk.sitkUInt16)
        empty.CopyInformation(image)
        segmentation = segmentation_writer.build_segmentation(
            empty, volume, [], extra_segments={"Lungs": (lungs.astype(np.uint8), (0.55, 0.75, 0.95), lung_term)})
        segmentation_writer.commit(env.scene, volume, segmentation, None, segmentation_node=context)
        path = out / "3d.png"
        rendering.render_3d(env.scene, env.app_logic, result.segmentation_node, path, size=(640, 640),
                            context_segmentation=context)
        pictures.append(path)
    finally:
        env.scene.RemoveNode(context)
    return pictures


def _render_probability(env, volume, result, out: Path) -> list[Path]:
    """The kept probability map blended over the CT, axial, at the first lesion (or the middle),
    with the lesions' outlines (the map's colours stay readable without their fill)."""
    from LungTumorSegLib import kept_probability, rendering

    kept = kept_probability.kept_run(result.segmentation_node)
    if kept is None:
        return []
    if result.lesions:
        x, y, z = result.lesions[0]["centroid_lps_mm"]
        centre = [-x, -y, z]
    else:
        bounds = [0.0] * 6
        volume.GetRASBounds(bounds)
        centre = [(bounds[2 * i] + bounds[2 * i + 1]) / 2 for i in range(3)]
    path = out / "probability_axial.png"
    rendering.render_slice(env.scene, env.app_logic, volume, result.segmentation_node, "Axial", centre, path,
                           size=(512, 512), foreground=kept.probability_node, foreground_opacity=0.6, fill_opacity=0.0)
    return [path]


def _sample_truth():
    """The built-in example's truth mask (z, y, x booleans)."""
    import SimpleITK as sitk

    from LungTumorSegLib import scenario

    return sitk.GetArrayFromImage(sitk.ReadImage(str(scenario.sample_files()[1]))) > 0


def _truth_match(label_image, truth) -> str:
    """'k of n true tumours found, m other findings' against the example's ``truth``."""
    import SimpleITK as sitk

    from lungtumorseg.evaluation.lesions import detect_lesions

    found = detect_lesions(sitk.GetArrayViewFromImage(label_image) > 0, truth, label_image.GetSpacing())
    return (f"{found.n_detected} of {found.n_truth} true tumours found, "
            f"{found.n_false_positive} other finding{'s' if found.n_false_positive != 1 else ''}")


def _operating_points(result, truth) -> None:
    """Print how other operating points change the lesions, each recomputed from the kept
    probability map (no inference), then restore the run's own lesions."""
    from lungtumorseg.postprocess import LesionFilter
    from LungTumorSegLib import kept_probability, logic_core

    post = result.report.get("postprocessing") or {}
    card = LesionFilter.from_dict(post)
    model = kept_probability.run_model_dir(kept_probability.kept_run(result.segmentation_node).record, None)
    check = logic_core.candidate_check(model) if "candidate_check_cutoff" in post else None
    threshold = float(post.get("threshold", result.report.get("threshold", 0.5)))
    points = [("model card", card, check),
              *([("model card without its zone limits", card.overridden(zone_limits=False), check)]
                if card.zone_limits else []),
              *([("model card without the candidate classifier", card, None)] if check else []),
              *([("more sensitive: only the size limit", LesionFilter(card.min_lesion_mm3), check)]
                if LesionFilter(card.min_lesion_mm3) != card.overridden(outline_growth=False) else []),
              ("stricter: confidence >= 0.8", card.overridden(min_peak_probability=0.8), check),
              ("no filters at all", LesionFilter(), None)]
    print("Operating points (recomputed from the kept probability map, no new inference):")
    for name, rule, judge in points:
        update = kept_probability.update_lesions(result.segmentation_node, threshold, rule, result.table_node,
                                                 check=judge)
        print(f"  {name:44s} {len(update.lesions):2d} lesion(s); {_truth_match(update.label_image, truth)} "
              f"({update.elapsed_s:.1f} s)")
    kept_probability.update_lesions(result.segmentation_node, threshold, card, result.table_node, check=check)


def _montage(paths: list[Path], target: Path) -> None:
    from PIL import Image

    images = [Image.open(p).convert("RGB") for p in paths]
    width = sum(i.width for i in images)
    sheet = Image.new("RGB", (width, max(i.height for i in images)))
    x = 0
    for image in images:
        sheet.paste(image, (x, 0))
        x += image.width
    target.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(target)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", type=Path, default=None, help="CT file (default: the built-in example chest CT)")
    parser.add_argument("--output-dir", type=Path, default=REPO / "demo-output")
    parser.add_argument("--model", type=Path, default=None, help="model package (default: the demo package)")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-render", action="store_true", help="skip the PNG pictures")
    parser.add_argument("--screenshots", action="store_true",
                        help="also refresh Resources/Screenshots/slices.png and 3d.png")
    args = parser.parse_args(argv)

    from LungTumorSegLib import headless, logic_core, model_packages, scenario

    started = time.monotonic()
    out = args.output_dir
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("lesion*_*.png"):  # pictures of a previous run's lesions (it may have found more)
        stale.unlink()
    env = headless.boot()
    try:
        if args.input is None:
            volume = scenario.load_sample_volume()
            name = scenario.SAMPLE_NAME
        else:
            name = args.input.name.split(".")[0]
            volume = env.logic("Volumes").AddArchetypeVolume(str(args.input), name, 0)
            if volume is None:
                print(f"error: Slicer could not read {args.input}", file=sys.stderr)
                return 2
            volume.CreateDefaultDisplayNodes()
        package = model_packages.read_package(args.model or model_packages.DEMO_PACKAGE)
        print(f"Input: {name}  {volume.GetImageData().GetDimensions()} voxels, "
              f"spacing {tuple(round(s, 2) for s in volume.GetSpacing())} mm")
        print(f"Model: {package.label}")
        if package.warning:
            print(f"WARNING: {package.warning}")
        print(f"Measured (model card): {package.accuracy}")  # what the module's model panel shows

        last = [-1]

        def progress(fraction: float, stage: str) -> None:
            percent = int(100 * fraction)
            if percent >= last[0] + 5 or fraction >= 1.0:
                last[0] = percent
                print(f"  {percent:3d}%  {stage}", flush=True)

        run = logic_core.SegmentationRun(
            logic_core.RunRequest(input_volume=volume, model_dir=package.path, threads=args.threads,
                                  output_name=f"{name} lung tumours"),
            on_progress=progress, on_log=lambda line: None, python=sys.executable)
        try:
            result = run.run()
        except Exception as exc:  # noqa: BLE001 (report any failure as one line)
            print(f"error: {exc}", file=sys.stderr)
            return 2
        written = _save_outputs(env, volume, result, out, name)
        pictures = []
        if not args.no_render:
            if _opengl_ok():
                pictures = _render(env, volume, result, out) + _render_probability(env, volume, result, out)
            else:
                print("note: no offscreen OpenGL (install libegl1 libegl-mesa0 libgl1-mesa-dri); pictures skipped")
        if args.screenshots and pictures:
            first = [p for p in pictures if p.name.startswith("lesion")][:3]
            _montage(first, REPO / "Resources" / "Screenshots" / "slices.png")
            shutil.copy(out / "3d.png", REPO / "Resources" / "Screenshots" / "3d.png")

        status = result.report.get("status", "ok")
        print(f"\nStatus: {status}  {result.report.get('message', '')}".rstrip())
        print(f"Lesions found: {len(result.lesions)}")
        for lesion in result.lesions:
            print(f"  Lesion {lesion['label']}: {lesion['volume_ml']:.2f} ml, long axis {lesion['long_axis_mm']:.1f} mm, "
                  f"{lesion.get('zone', '?')} zone, {lesion.get('side', '?')} lung, mean HU {lesion['hu_mean']:.0f}"
                  + ("" if lesion.get("candidate_score") is None else
                     f", candidate score {lesion['candidate_score']:.2f}")
                  + (", found by the magnified look" if lesion.get("found_by") == "magnified look" else "")
                  + (f", {lesion['joined_ml']:.2f} ml of it added by the magnified look" if lesion.get("joined_ml")
                     else ""))
        look = result.report.get("magnified_look")
        if look:
            joined = (result.report.get("postprocessing") or {}).get("magnified_join")
            print(f"Magnified second look ({look['zoom']:g}x): {look['candidates']} candidate(s) only it saw, "
                  f"{look['confirmed']} confirmed by its classifier (cut-off {look['cutoff']:g})"
                  + ("; each lesion took in what it marks touching it" if joined else ""))
        if args.input is None:
            truth = scenario.sample_metadata().get("tumours", [])
            truth_mask = _sample_truth()
            print(f"Truth (phantom): {len(truth)} tumour(s); {_truth_match(result.label_image, truth_mask)}")
            _operating_points(result, truth_mask)
        timings = result.report.get("timings_s", {})
        if timings:
            print("Core timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
        print(f"Total time: {time.monotonic() - started:.1f} s")
        print(f"Outputs in {out}/: " + ", ".join(p.name for p in written + pictures))
        return 0
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
