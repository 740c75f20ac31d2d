"""Property tests of the ``.osr`` reader: any valid replay, written here byte by byte from the
format's description (not with the package's own writer), parses to the header and the
frames it was built from. A reader that rejected or mangled valid files fails them; the
package's writer is then checked against the same replays (write, read back, equal)."""

import lzma
import struct

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from actiongen_keras.recordings.importers.osu_replay import ONLINE_ID_VERSION, pack_osr, parse_osr


def uleb128(n):
    out = bytearray()
    while True:
        out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
        n >>= 7
        if not n:
            return bytes(out)


def osu_string(text):
    raw = text.encode("utf-8")
    return b"\x00" if not text else b"\x0b" + uleb128(len(raw)) + raw


# Positions as osu! writes them: at most 4 decimals (off-screen and negative allowed, but
# never the dummy frames' y = -500). Steps w >= 0 ms; key bitmasks of the 5 std inputs.
coord = st.integers(-2_000_000, 8_000_000).map(lambda v: v / 10_000)
frame = st.tuples(st.integers(0, 1000), coord, coord.filter(lambda y: y != -500.0), st.integers(0, 31))
text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
md5 = st.text("0123456789abcdef", min_size=32, max_size=32)


@st.composite
def replays(draw):
    return {
        "mode": draw(st.integers(0, 3)),
        "version": draw(st.sampled_from([20131216, ONLINE_ID_VERSION - 1, ONLINE_ID_VERSION, 20210520])),
        "beatmap_md5": draw(md5), "player": draw(text), "replay_md5": draw(md5),
        "counts": draw(st.lists(st.integers(0, 65535), min_size=6, max_size=6)),
        "score": draw(st.integers(0, 2**31 - 1)), "max_combo": draw(st.integers(0, 65535)), "perfect": draw(st.booleans()),
        "mods": draw(st.integers(0, 2**30)), "life_bar": draw(text), "timestamp": draw(st.integers(0, 2**62)),
        "frames": draw(st.lists(frame, min_size=1, max_size=60)),
        "seed": draw(st.none() | st.integers(0, 2**31 - 1)),
        "online_id": draw(st.integers(0, 2**62)),
    }


def osr_bytes(r):
    rows = ["0|256|-500|0", "-1|256|-500|0"] + [f"{w}|{x!r}|{y!r}|{k}" for w, x, y, k in r["frames"]]
    if r["seed"] is not None:
        rows.append(f"-12345|0|0|{r['seed']}")
    blob = lzma.compress((",".join(rows) + ",").encode("ascii"), format=lzma.FORMAT_ALONE)
    out = struct.pack("<Bi", r["mode"], r["version"]) + osu_string(r["beatmap_md5"]) + osu_string(r["player"])
    out += osu_string(r["replay_md5"]) + struct.pack("<6H", *r["counts"])
    out += struct.pack("<iHBI", r["score"], r["max_combo"], r["perfect"], r["mods"]) + osu_string(r["life_bar"])
    out += struct.pack("<qi", r["timestamp"], len(blob)) + blob
    if r["version"] >= ONLINE_ID_VERSION:
        out += struct.pack("<q", r["online_id"])
    return out


def assert_parsed_as_built(parsed, r):
    assert (parsed.mode, parsed.version, parsed.beatmap_md5, parsed.player, parsed.replay_md5) == (
        r["mode"], r["version"], r["beatmap_md5"], r["player"], r["replay_md5"])
    assert list(parsed.counts.values()) == r["counts"]
    assert (parsed.score, parsed.max_combo, parsed.perfect, parsed.mods, parsed.life_bar, parsed.timestamp) == (
        r["score"], r["max_combo"], r["perfect"], r["mods"], r["life_bar"], r["timestamp"])
    assert parsed.online_id == (r["online_id"] if r["version"] >= ONLINE_ID_VERSION else None)
    w, x, y, keys = (np.array(c) for c in zip(*r["frames"]))
    f = parsed.frames
    assert f.dummies == 2 and f.rng_seed == r["seed"]
    np.testing.assert_array_equal(f.t_ms, -1 + np.cumsum(w))  # the dummies' 0 and -1 ms count
    np.testing.assert_array_equal(f.x, x)
    np.testing.assert_array_equal(f.y, y)
    np.testing.assert_array_equal(f.keys, keys)
    np.testing.assert_array_equal(f.number, np.arange(3, 3 + len(w)))  # 1-based, after the two dummies


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r=replays())
def test_any_valid_replay_parses_to_what_it_was_built_from(r):
    assert_parsed_as_built(parse_osr(osr_bytes(r), "gen.osr"), r)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(r=replays())
def test_the_writer_gives_back_every_valid_replay(r):
    parsed = parse_osr(osr_bytes(r), "gen.osr")
    # the writer always writes the seed frame (as today's client does): 0 where there was none
    assert_parsed_as_built(parse_osr(pack_osr(parsed), "written.osr"), {**r, "seed": r["seed"] or 0})
