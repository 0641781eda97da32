"""The module's help and acknowledgement texts (Slicer's Help & Acknowledgement panel).

Kept apart from ``LungTumorSeg.py`` so that the module class stays thin and the texts can be
checked headless: every option of the panel is explained here (a test compares them with
the ``.ui``), and the demo-weights warning is always present.
"""

HELP_TEXT = """
<p>Segments lung tumours in a chest CT automatically. The lungs are found classically,
the thorax is split into <b>upper</b>, <b>middle</b> and <b>lower</b> zones, one MONAI
UNETR per zone computes a tumour probability, the three probability maps are blended into
one on the original CT grid, and the result is split into lesions: one segment per lesion
(standard terminology) and a lesion table (volume, long/short axis, zone, side, HU
statistics, and the candidate classifier's score when the package has one).</p>
<p>Select the <b>input CT volume</b> and a <b>model package</b>; the <b>output segmentation</b>
is a new one, or the output of a previous run, whose segments are then replaced. Press
<b>Apply</b>. The computation runs in a
separate process; <b>Cancel</b> stops it and leaves the scene unchanged. <b>Show 3D</b>
shows the lesions in the 3D view (it can be switched after a run too).</p>
<p><b>Advanced</b> holds the model card's post-processing, which you can change per run:
<b>probability threshold</b>, <b>minimum lesion size</b>, <b>minimum confidence</b> (a finding is
kept only if its highest probability reaches it), <b>maximum elongation</b> (tube-shaped findings
such as vessels are dropped; raise it or choose "no limit" if an elongated tumour is missed)
and <b>maximum mean density</b> (findings denser on average than this, such as bone,
calcification or contrast-filled vessels, are dropped; raise it for a densely calcified
tumour; the top of its range, 3000 HU, means no limit). A model card may also set <b>zone
limits</b>, stricter limits in a zone where its network errs more (e.g. a larger minimum size
in the hilar middle zone); uncheck "Zone limits from the model" to apply the general limits
alone. <b>Grow outlines to the tumour edge</b> (on when the card asks for it) lets each kept
lesion's outline grow a few millimetres into voxels of tumour-edge density, where the network
stops short of the partial-volume rim; it never adds or removes lesions. A card may add a
<b>candidate check</b>, a second network that rejects candidates it judges false (the demo's
was trained on synthetic phantoms only): uncheck "Candidate check" to keep every candidate
(more false findings), or move its <b>candidate cut-off</b> (default: the card's) — lower finds
more, with more false findings; each lesion's score is in the lesion table. <b>Zone overlap</b>
is the margin by which neighbouring zones overlap (their probabilities are blended there);
<b>CPU threads</b> limits the threads of the computation (automatic: all cores). A card may
add a <b>magnified second look</b>: the zone networks look at the CT once more, magnified, where
small nodules resemble the larger ones they find, and a classifier confirms what only that look
sees; the card may also let each lesion found take in what the magnified look marks touching it
(wider outlines of part-solid and ground-glass tumours, never a new lesion). It works on about
the zoom cubed times the voxels (3.4 times at a zoom of 1.5, which makes a run three to five
times as long; uncheck "Magnified second look" for one look at the card's own scale).</p>
<p>With <b>Keep probability map</b> on (the default) the run keeps the network's tumour
probability (0-100 %) as a volume beside the CT. After changing the threshold or the
filters, <b>Update lesions</b> recomputes the segments and the table from that map in
about a second, without running the network again, with the model package of that run
(by itself with <b>Automatically</b> on, half a second after the last change); <b>Show
probability map</b> overlays it on the CT, which shows where the model hesitated below the
threshold.</p>
<p><b>Warning:</b> the bundled demo model was <b>trained on synthetic data, a
demonstration, not for clinical use</b>. Its results on real CT are meaningless. Under the
model selector the panel shows what the selected package's card measured on held-out data,
each number beside the target it must reach; for the demo these are synthetic phantoms, which
check the software, not clinical accuracy.</p>
<p>Other model packages (a folder with <code>model.json</code> and one weight file per
zone, e.g. trained with <code>lungtumorseg train</code> on the Medical Segmentation
Decathlon Task06 Lung data) are installed with <b>Install from folder…</b> or
<b>Install from URL…</b> (a zip of the package; paste the SHA-256 published with it when asked,
so a damaged or substituted download is refused); weight checksums are verified.</p>
<p>See <a href="https://github.com/lungtumorseg/SlicerLungTumorSeg">the project page</a>.</p>
"""

ACKNOWLEDGEMENT_TEXT = """
Region-wise lung tumour segmentation follows the founding work on zone-wise (upper /
middle / lower) UNETR segmentation of lung tumours in CT. UNETR: A. Hatamizadeh et al.,
"UNETR: Transformers for 3D Medical Image Segmentation", WACV 2022. Built with MONAI
(Project MONAI, https://monai.io). Medical Segmentation Decathlon: M. Antonelli et al.,
"The Medical Segmentation Decathlon", Nature Communications 13, 4128 (2022).
"""
