"""Offscreen pictures from Slicer's displayable managers (needs Mesa EGL; probed first)."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk

import slicer_env as senv

pytestmark = pytest.mark.rendering


def _scene_with_lesion(env, tmp_path):
    """Chest-like volume (read by Slicer's reader, as a user's file would be): body, one
    'lung', one lesion (label 1) at a known RAS centre."""
    from LungTumorSegLib import segmentation_writer as sw

    array = np.full((40, 120, 140), -1000, np.int16)
    zz, yy, xx = np.mgrid[:40, :120, :140]
    array[(xx - 70) ** 2 / 60 ** 2 + (yy - 60) ** 2 / 45 ** 2 < 1] = 40  # body
    array[(xx - 45) ** 2 + (yy - 60) ** 2 < 22 ** 2] = -850  # lung
    lesion = (xx - 40) ** 2 + (yy - 60) ** 2 + ((zz - 20) * 2.5) ** 2 < 10 ** 2
    array[lesion] = 30
    image = sitk.GetImageFromArray(array)
    image.SetSpacing((1.0, 1.0, 2.5))
    image.SetOrigin((-70.0, -60.0, -50.0))
    labels = sitk.GetImageFromArray(lesion.astype(np.uint16))
    labels.CopyInformation(image)
    sitk.WriteImage(image, str(tmp_path / "ct.nrrd"))
    volume = senv.load_volume_file(tmp_path / "ct.nrrd")
    committed = sw.commit(env.scene, volume, sw.build_segmentation(labels, volume, None), None)
    lps = image.TransformIndexToPhysicalPoint((40, 60, 20))
    return volume, committed.segmentation_node, [-lps[0], -lps[1], lps[2]], image


def _png(path):
    from PIL import Image

    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def _lesion_red(rgb):
    """Pixels in the first palette colour (230, 25, 75) blended over grey (fill opacity < 1)."""
    r, g, b = rgb[..., 0], rgb[..., 1], rgb[..., 2]
    return (r - g > 60) & (r - b > 30)


def test_slice_views_show_the_overlay_at_the_lesion(slicer_env, opengl, tmp_path):
    from LungTumorSegLib import rendering

    volume, seg, centre, _ = _scene_with_lesion(slicer_env, tmp_path)
    nodes_before = slicer_env.scene.GetNumberOfNodes()
    for orientation in rendering.ORIENTATIONS:
        path = rendering.render_slice(slicer_env.scene, slicer_env.app_logic, volume, seg, orientation, centre,
                                      tmp_path / f"{orientation}.png", size=(256, 256))
        rgb = _png(path)
        assert rgb.shape == (256, 256, 3)
        red = _lesion_red(rgb)
        assert red.sum() > 50, f"{orientation}: no lesion overlay drawn"
        # the view is centred on the lesion: the overlay's centre is near the image centre
        ys, xs = np.nonzero(red)
        assert abs(xs.mean() - 128) < 20 and abs(ys.mean() - 128) < 20, (orientation, xs.mean(), ys.mean())
        # the CT is drawn, too (grey levels vary)
        assert len(np.unique(rgb[~red][:, 0])) > 2
    assert slicer_env.scene.GetNumberOfNodes() == nodes_before  # views cleaned up


def test_slice_away_from_the_lesion_has_no_overlay(slicer_env, opengl, tmp_path):
    from LungTumorSegLib import rendering

    volume, seg, centre, _ = _scene_with_lesion(slicer_env, tmp_path)
    far = [centre[0], centre[1], centre[2] + 40.0]
    path = rendering.render_slice(slicer_env.scene, slicer_env.app_logic, volume, seg, "Axial", far,
                                  tmp_path / "far.png", size=(256, 256))
    assert _lesion_red(_png(path)).sum() == 0


def test_slice_view_blends_a_probability_map_over_the_ct(slicer_env, opengl, tmp_path):
    """The kept probability map (uint8 %, Iron colours, below 1 % transparent) as foreground:
    warm colours where the map is high, the CT unchanged where it is 0."""
    from LungTumorSegLib import kept_probability, rendering, volume_bridge

    volume, _seg, centre, image = _scene_with_lesion(slicer_env, tmp_path)
    lesion = sitk.GetArrayFromImage(image) == 30
    percent = sitk.GetImageFromArray((lesion * 90).astype(np.uint8))
    percent.CopyInformation(image)
    probability = slicer_env.scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", "probability")
    volume_bridge.set_volume_from_image(probability, percent)
    kept_probability.style_probability_node(probability)
    plain = _png(rendering.render_slice(slicer_env.scene, slicer_env.app_logic, volume, None, "Axial", centre,
                                        tmp_path / "plain.png", size=(256, 256)))
    blended = _png(rendering.render_slice(slicer_env.scene, slicer_env.app_logic, volume, None, "Axial", centre,
                                          tmp_path / "blended.png", size=(256, 256), foreground=probability,
                                          foreground_opacity=0.6))
    changed = np.abs(blended - plain).sum(axis=-1) > 30
    assert changed.sum() > 50, "the probability map was not drawn"
    ys, xs = np.nonzero(changed)
    assert abs(xs.mean() - 128) < 20 and abs(ys.mean() - 128) < 20  # where the lesion is
    warm = blended[changed]
    assert (warm[:, 0] > warm[:, 2]).mean() > 0.9  # Iron: red/yellow, not blue
    # the map is transparent (0 %) away from the lesion: the picture there is the plain CT
    corner = (slice(0, 40), slice(0, 40))
    np.testing.assert_array_equal(blended[corner], plain[corner])


def test_3d_view_shows_lesion_and_lung_context(slicer_env, opengl, tmp_path):
    from LungTumorSegLib import rendering, segmentation_writer as sw

    volume, seg, _, image = _scene_with_lesion(slicer_env, tmp_path)
    lungs = rendering.lung_context_mask(image)
    assert lungs.sum() > 0 and not lungs[:, 0, :].any()  # outside air excluded
    context = slicer_env.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "ctx")
    context.CreateDefaultDisplayNodes()
    empty = sitk.Image(image.GetSize(), sitk.sitkUInt16)
    empty.CopyInformation(image)
    sw.commit(slicer_env.scene, volume, sw.build_segmentation(
        empty, volume, [], extra_segments={"Lungs": (lungs, (0.55, 0.75, 0.95), None)}), None, segmentation_node=context)
    path = rendering.render_3d(slicer_env.scene, slicer_env.app_logic, seg, tmp_path / "3d.png", size=(256, 256),
                               context_segmentation=context)
    rgb = _png(path)
    assert _lesion_red(rgb).sum() > 100, "lesion surface not visible"
    background = rgb[0, 0]
    assert (np.abs(rgb - background).sum(axis=-1) > 30).mean() > 0.05, "almost nothing drawn"
