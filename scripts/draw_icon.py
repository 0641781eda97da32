"""Draw the extension/module icon (128x128 PNG): two lungs with a tumour, on a dark tile.

Run: python scripts/draw_icon.py  (writes Resources/LungTumorSeg.png and the module icon)
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

REPO = Path(__file__).resolve().parents[1]
SCALE = 4  # draw large, downsample for smooth edges


def draw(size: int = 128) -> Image.Image:
    s = size * SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    d.rounded_rectangle([0, 0, s - 1, s - 1], radius=22 * SCALE, fill=(24, 38, 66, 255))
    lung = (236, 170, 170, 255)
    # right lung (image left) and left lung (image right), with a heart notch
    d.ellipse([16 * SCALE, 22 * SCALE, 60 * SCALE, 112 * SCALE], fill=lung)
    d.ellipse([68 * SCALE, 22 * SCALE, 112 * SCALE, 112 * SCALE], fill=lung)
    d.ellipse([60 * SCALE, 70 * SCALE, 86 * SCALE, 104 * SCALE], fill=(24, 38, 66, 255))
    # trachea and bronchi
    w = 7 * SCALE
    d.line([(64 * SCALE, 6 * SCALE), (64 * SCALE, 40 * SCALE)], fill=(200, 210, 230, 255), width=w)
    d.line([(64 * SCALE, 40 * SCALE), (46 * SCALE, 56 * SCALE)], fill=(200, 210, 230, 255), width=w)
    d.line([(64 * SCALE, 40 * SCALE), (82 * SCALE, 56 * SCALE)], fill=(200, 210, 230, 255), width=w)
    # zone separators
    for y in (52, 80):
        d.line([(14 * SCALE, y * SCALE), (114 * SCALE, y * SCALE)], fill=(24, 38, 66, 200), width=2 * SCALE)
    # tumour
    d.ellipse([84 * SCALE, 58 * SCALE, 104 * SCALE, 78 * SCALE], fill=(230, 25, 75, 255),
              outline=(255, 225, 25, 255), width=3 * SCALE)
    return img.filter(ImageFilter.SMOOTH).resize((size, size), Image.LANCZOS)


if __name__ == "__main__":
    icon = draw()
    for path in (REPO / "Resources" / "LungTumorSeg.png", REPO / "LungTumorSeg" / "Resources" / "Icons" / "LungTumorSeg.png"):
        path.parent.mkdir(parents=True, exist_ok=True)
        icon.save(path)
        print(path)
