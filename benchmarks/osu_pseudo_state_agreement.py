"""How close the pseudo hit objects (from a replay's own key presses) are to the real map's.

    python benchmarks/osu_pseudo_state_agreement.py [--data ../shared/data/osu_replays]

Imports every replay of the folder that has its beatmap (repair), builds the pseudo
beatmap from the session's presses as ``actiongen import --source osu_replays`` would when
the map is missing (``osu_pseudo.pseudo_beatmap``), without and with the player's-error
noise, and compares it with the real map (``osu_pseudo.match_objects``: each real circle
or slider takes the pseudo object nearest in time, matched within the 50-point hit
window). Prints one line per replay and the pooled figures.
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from actiongen_keras.recordings.importers import osu
from actiongen_keras.recordings.importers.osu_beatmap import (
    effective_difficulty,
    hit_window_50_ms,
    read_osu,
)
from actiongen_keras.recordings.importers.osu_pseudo import (
    match_objects,
    pseudo_beatmap,
)
from actiongen_keras.recordings.importers.osu_replay import mods_from_names
from actiongen_keras.recordings.session import read_session

FIELDS = ("matched", "median_position_error_px", "median_time_error_ms", "unmatched_pseudo", "same_kind")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data" / "osu_replays"))
    args = p.parse_args()
    data = Path(args.data)
    pooled = {True: [], False: []}
    with tempfile.TemporaryDirectory() as tmp:
        summary = osu.import_folder(data, Path(tmp), repair=True, progress=False)
        for folder in summary.written:
            s, _ = read_session(folder)
            if s.extra.get("state_source") != "beatmap" or s.extra.get("human_channels") != ["cursor", "keys"]:
                continue
            real = read_osu(next(data.rglob(s.extra["beatmap_file"])))
            mods = mods_from_names("".join(s.extra["mods"]))
            window = hit_window_50_ms(effective_difficulty(real.cs, real.ar, real.od, mods)[2])
            for noise in (False, True):
                pseudo, _ = pseudo_beatmap(s.events, mods, s.extra["map_time_offset_ms"], s.time_scale, s.session_id, noise=noise)
                m = match_objects(pseudo.objects, real.objects, window, speed=s.time_scale)
                pooled[noise].append(m)
                print(f"{s.session_id[:40]:<40} {' '.join(s.extra['mods']) or 'NM':<6} noise {'on ' if noise else 'off'} "
                      f"objects {m['real_objects']:>5}  " + "  ".join(f"{k} {m[k]:.3f}" for k in FIELDS))
    for noise, rows in pooled.items():
        if rows:
            w = np.array([r["real_objects"] for r in rows], dtype=float)
            print(f"pooled (weighted by objects), noise {'on' if noise else 'off'}: {int(w.sum())} objects  "
                  + "  ".join(f"{k} {np.average([r[k] for r in rows], weights=w):.3f}" for k in FIELDS))


if __name__ == "__main__":
    main()
