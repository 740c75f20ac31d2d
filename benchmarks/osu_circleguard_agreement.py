"""The project's osu! hit counting against circleguard's judgments on the real replays.

    python benchmarks/osu_circleguard_agreement.py [--data ../shared/data/osu]

Imports every replay of the folder (repair), keeps the osu!std sessions with their beatmap
and both human channels (cursor and keys: relax and autopilot replays are half bot), and
compares, object by object, ``osu_hits`` (cursor in the circle at the hit time and a click
in the 50-window; and the game-rule reading: the cursor in the circle at a click in the
window) with circleguard's judgments of the original ``.osr`` and of the session written
back as an ``.osr`` (only the latter for replays that come as ``frames_csv``, as in
``osu_replays/``). Prints one line per replay and the pooled agreement.
"""

import argparse
import tempfile
from pathlib import Path

from actiongen_keras.evaluation.osu_circleguard import object_agreement
from actiongen_keras.recordings.importers import osu
from actiongen_keras.recordings.importers.base import safe_id
from actiongen_keras.recordings.session import read_session


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "osu"))
    args = p.parse_args()
    data = Path(args.data)
    n = agree = agree_press = same_export = originals = 0
    replays = {"osu_" + safe_id(p.stem): p for p in data.rglob("*.osr")}
    with tempfile.TemporaryDirectory() as tmp:
        summary = osu.import_folder(data, Path(tmp), repair=True, progress=False)
        for folder in summary.written:
            s, _ = read_session(folder)
            if s.extra.get("mode") != "osu!std" or not s.extra.get("beatmap_file") or s.extra.get("human_channels") != ["cursor", "keys"]:
                continue
            beatmap = next(data.rglob(s.extra["beatmap_file"]))
            b = object_agreement(s, beatmap)  # circleguard on our .osr of the session
            osr = replays.get(Path(folder).name)
            a = object_agreement(s, beatmap, osr) if osr is not None else b
            k = a["n_objects"]
            n, agree, agree_press = n + k, agree + a["agree"] * k, agree_press + a["agree_at_press"] * k
            if osr is not None:
                originals += 1
                same_export += int(b["circleguard"] == a["circleguard"])
            print(f"{Path(folder).name[:60]:<60} {' '.join(s.extra.get('mods') or ['NM']):<9} objects {k:>5}  ours {a['ours']:>5} / at press {a['ours_at_press']:>5}  "
                  f"circleguard {a['circleguard']:>5} (our .osr: {b['circleguard']:>5})  agreement {a['agree']:.3f} / {a['agree_at_press']:.3f}")
    print(f"pooled over {n} objects: agreement {agree / n:.4f} (hit rule), {agree_press / n:.4f} (cursor at the click); "
          f"circleguard judged our .osr like the original on {same_export} of {originals} replays that have their .osr")


if __name__ == "__main__":
    main()
