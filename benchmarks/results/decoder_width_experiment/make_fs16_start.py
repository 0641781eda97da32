"""Write Experiment D's fs16 lower-zone network (step 1,500) as a lower-only package, so a
new run can start from it with --init-from and mine its own false positives."""
import copy, json, torch
from lungtumorseg.models.package import save_package
ck = torch.load("/work/train/s15/expD/fs16/checkpoints/lower.pt", map_location="cpu", weights_only=True)
card = json.load(open("LungTumorSeg/Resources/Models/lungtumorseg-demo-phantom/model.json"))
card = copy.deepcopy(card)
card["name"] = "expD-fs16-start"; card["version"] = "0.0.1"
card["network"]["feature_size"] = 16
card["zones"]["names"] = ["lower"]
card["description"] = "Experiment D fs16 lower network at step 1,500 (start of Experiment E). Synthetic data, demo, not for clinical use."
card.pop("weights", None)
print("step", ck["step"], "best", ck["best"])
pkg = save_package("/work/train/s16/fs16start", card, {"lower": ck["best_state"]})
net = pkg.load_network("lower"); print(sum(p.numel() for p in net.parameters()))
