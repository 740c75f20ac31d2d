"""Read osu! beatmaps (``.osu`` text): difficulty, timing points and hit objects.

Only what the importer needs is parsed: ``[General]`` (Mode), ``[Difficulty]``,
``[TimingPoints]`` and ``[HitObjects]``. Hit objects are returned column-wise in NumPy
arrays with their end time (sliders: from SliderMultiplier, the timing point's beat
length and slider velocity, slides and pixel length; spinners: their end time) and end
position. The slider end position is *approximated* by the slider's last control point
(or its start when it has an even number of slides); the curve itself is not traced,
and stacking offsets are not applied.

Every problem raises :class:`~actiongen_keras.errors.FormatError` naming the file, the
line and the reason.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np

from actiongen_keras.errors import FormatError

PLAYFIELD = (512, 384)
KINDS = ("circle", "slider", "spinner", "hold")  # index = kind code in HitObjects.kind
_TYPE_CIRCLE, _TYPE_SLIDER, _TYPE_SPINNER, _TYPE_HOLD = 1, 2, 8, 128


@dataclasses.dataclass
class HitObjects:
    """Hit objects sorted by time; ``kind`` indexes :data:`KINDS`; ``line`` is the source line."""

    time: np.ndarray
    x: np.ndarray
    y: np.ndarray
    kind: np.ndarray
    end_time: np.ndarray
    end_x: np.ndarray
    end_y: np.ndarray
    new_combo: np.ndarray
    line: np.ndarray

    def __len__(self):
        return len(self.time)


@dataclasses.dataclass
class Beatmap:
    """A parsed ``.osu`` file."""

    path: str
    format_version: int
    mode: int
    cs: float
    ar: float
    od: float
    hp: float
    slider_multiplier: float
    objects: HitObjects
    md5: str = ""


def md5_variants(data):
    """MD5s under which a replay may know these map bytes.

    osu! hashes the file as shipped (CRLF line ends); copies kept in git often have LF,
    so the MD5 of the CRLF form is included.
    """
    lf = data.replace(b"\r\n", b"\n")
    return {hashlib.md5(data).hexdigest(), hashlib.md5(lf.replace(b"\n", b"\r\n")).hexdigest(), hashlib.md5(lf).hexdigest()}


def preempt_ms(ar):
    """How long (map ms) before its hit time an object appears, from AR."""
    ar = float(ar)
    return 1200.0 + 600.0 * (5.0 - ar) / 5.0 if ar < 5 else 1200.0 - 750.0 * (ar - 5.0) / 5.0


def circle_radius(cs):
    """Hit circle radius in osu! pixels, from CS."""
    return 54.4 - 4.48 * float(cs)


def hit_window_50_ms(od):
    """Half-width (map ms) of the 50-point hit window, from OD."""
    return 200.0 - 10.0 * float(od)


def effective_difficulty(cs, ar, od, mods):
    """``(cs, ar, od)`` after HR (x1.3 CS, x1.4 AR/OD, capped at 10) or EZ (halved)."""
    if mods & 16:  # HR
        return min(cs * 1.3, 10.0), min(ar * 1.4, 10.0), min(od * 1.4, 10.0)
    if mods & 2:  # EZ
        return cs / 2, ar / 2, od / 2
    return cs, ar, od


def _sections(text, path):
    """``{section: [(line number, line), ...]}`` without blank lines and comments."""
    out, current = {}, None
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("//"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            out.setdefault(current, [])
        elif current is not None:
            out[current].append((n, line))
    return out


def _num(text, path, line, field, integer=False):
    try:
        v = float(text)
    except ValueError:
        raise FormatError(path, f"'{text[:40]}' is not a number", line=line, field=field) from None
    if not math.isfinite(v):
        raise FormatError(path, f"{field} must be finite, got {text!r}", line=line, field=field)
    if integer and v != int(v):
        raise FormatError(path, f"{field} must be a whole number, got {text!r}", line=line, field=field)
    return v


def _key_values(lines, path):
    out = {}
    for n, line in lines:
        if ":" in line:
            k, v = line.split(":", 1)
            out[k.strip()] = (n, v.strip())
    return out


def parse_osu(data, path="<bytes>"):
    """Parse the bytes of a ``.osu`` file into a :class:`Beatmap`."""
    if not data:
        raise FormatError(path, "empty file", line=1)
    try:
        text = bytes(data).decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise FormatError(path, f"not UTF-8 text ({e.reason})", line=bytes(data)[: e.start].count(b"\n") + 1) from None
    first = text.lstrip("\ufeff \t\r\n").split("\n", 1)[0].strip()
    if not first.startswith("osu file format v"):
        raise FormatError(path, f"not an osu! beatmap: first line must be 'osu file format vN', got {first[:40]!r}", line=1)
    try:
        format_version = int(first[len("osu file format v") :])
    except ValueError:
        raise FormatError(path, f"bad format version in {first[:40]!r}", line=1) from None
    sec = _sections(text, path)
    if "HitObjects" not in sec:
        raise FormatError(path, "no [HitObjects] section")
    general = _key_values(sec.get("General", []), path)
    diff = _key_values(sec.get("Difficulty", []), path)

    def setting(table, key, default=None, lo=-math.inf, hi=math.inf):
        if key not in table:
            if default is None:
                raise FormatError(path, f"[Difficulty] lacks {key}", field=key)
            return default
        n, v = table[key]
        x = _num(v, path, n, key)
        if not lo <= x <= hi:
            raise FormatError(path, f"{key} {x:g} out of range [{lo:g}, {hi:g}]", line=n, field=key)
        return x

    mode = int(setting(general, "Mode", 0.0, 0, 3))
    od = setting(diff, "OverallDifficulty", 5.0, 0, 10)
    beatmap = Beatmap(
        path=str(path), format_version=format_version, mode=mode,
        cs=setting(diff, "CircleSize", 5.0, 0, 10 if mode != 3 else 18),
        ar=setting(diff, "ApproachRate", od, 0, 10),  # old maps: AR = OD
        od=od, hp=setting(diff, "HPDrainRate", 5.0, 0, 10),
        slider_multiplier=setting(diff, "SliderMultiplier", 1.4, 0.1, 10),
        objects=None, md5=hashlib.md5(bytes(data)).hexdigest(),
    )
    timing = _timing_points(sec.get("TimingPoints", []), path)
    beatmap.objects = _hit_objects(sec["HitObjects"], timing, beatmap.slider_multiplier, path)
    return beatmap


def read_osu(path):
    """Read and parse a ``.osu`` file (see :func:`parse_osu`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read file ({e.__class__.__name__}: {e})") from None
    return parse_osu(data, path)


def _timing_points(lines, path):
    """``(time, beat_length, uninherited)`` arrays, sorted by time (stable)."""
    t, bl, red = [], [], []
    for n, line in lines:
        f = line.split(",")
        if len(f) < 2:
            raise FormatError(path, "timing point needs at least time,beatLength", line=n, field="TimingPoints")
        time_ = _num(f[0], path, n, "time")
        beat = _num(f[1], path, n, "beatLength")
        if len(f) > 6 and f[6].strip():
            uninherited = _num(f[6], path, n, "uninherited") == 1
        else:
            uninherited = beat > 0
        if uninherited and beat <= 0:
            raise FormatError(path, f"uninherited timing point needs a positive beat length, got {beat:g}", line=n, field="beatLength")
        t.append(time_)
        bl.append(beat)
        red.append(uninherited)
    order = np.argsort(np.asarray(t, dtype=np.float64), kind="stable")
    return (np.asarray(t, dtype=np.float64)[order], np.asarray(bl, dtype=np.float64)[order], np.asarray(red, dtype=bool)[order])


def _hit_objects(lines, timing, slider_multiplier, path):
    """Parse ``[HitObjects]`` lines (one Python pass), then compute slider ends with NumPy."""
    n_obj = len(lines)
    time = np.empty(n_obj)
    x = np.empty(n_obj)
    y = np.empty(n_obj)
    kind = np.empty(n_obj, dtype=np.int8)
    end_time = np.empty(n_obj)
    end_x = np.empty(n_obj)
    end_y = np.empty(n_obj)
    combo = np.empty(n_obj, dtype=bool)
    slides = np.ones(n_obj)
    length = np.zeros(n_obj)
    src = np.empty(n_obj, dtype=np.int64)
    for i, (n, line) in enumerate(lines):
        f = line.split(",")
        if len(f) < 4:
            raise FormatError(path, "hit object needs at least x,y,time,type", line=n, field="HitObjects")
        x[i] = _num(f[0], path, n, "x")
        y[i] = _num(f[1], path, n, "y")
        time[i] = _num(f[2], path, n, "time")
        typ = int(_num(f[3], path, n, "type", integer=True))
        combo[i] = bool(typ & 4)
        src[i] = n
        end_time[i], end_x[i], end_y[i] = time[i], x[i], y[i]
        if typ & _TYPE_CIRCLE:
            kind[i] = 0
        elif typ & _TYPE_SLIDER:
            kind[i] = 1
            if len(f) < 8:
                raise FormatError(path, "slider needs curve,slides,length fields", line=n, field="HitObjects")
            points = [p for p in f[5].split("|")[1:] if ":" in p]
            if points:
                px, py = points[-1].split(":", 1)
                end_x[i], end_y[i] = _num(px, path, n, "curve"), _num(py, path, n, "curve")
            slides[i] = _num(f[6], path, n, "slides", integer=True)
            length[i] = _num(f[7], path, n, "length")
            if slides[i] < 1 or length[i] < 0:
                raise FormatError(path, f"slider slides must be >= 1 and length >= 0, got {f[6]}, {f[7]}", line=n, field="slides")
            if slides[i] % 2 == 0:  # an even number of slides ends where it started
                end_x[i], end_y[i] = x[i], y[i]
        elif typ & _TYPE_SPINNER:
            kind[i] = 2
            if len(f) < 6:
                raise FormatError(path, "spinner needs an end time", line=n, field="endTime")
            end_time[i] = _num(f[5], path, n, "endTime")
        elif typ & _TYPE_HOLD:
            kind[i] = 3
            if len(f) < 6:
                raise FormatError(path, "hold note needs an end time", line=n, field="endTime")
            end_time[i] = _num(f[5].split(":", 1)[0], path, n, "endTime")
        else:
            raise FormatError(path, f"unknown hit object type {typ}", line=n, field="type")
    is_slider = kind == 1
    if is_slider.any():
        t_tp, beat, red = timing
        if not red.any():
            raise FormatError(path, "sliders need an uninherited timing point; [TimingPoints] has none", field="TimingPoints")
        rt, rb = t_tp[red], beat[red]
        gt, gb = t_tp[~red], beat[~red]
        st = time[is_slider]
        ri = np.clip(np.searchsorted(rt, st, side="right") - 1, 0, None)
        beat_length = rb[ri]
        sv = np.ones(len(st))
        if len(gt):
            gi = np.searchsorted(gt, st, side="right") - 1
            ok = (gi >= 0) & (gt[np.clip(gi, 0, None)] >= rt[ri])
            sv[ok] = 100.0 / -np.clip(gb[gi[ok]], -1000.0, -10.0)
        duration = length[is_slider] / (slider_multiplier * 100.0 * sv) * beat_length * slides[is_slider]
        end_time[is_slider] = time[is_slider] + duration
    bad = ~np.isfinite(end_time) | (end_time < time)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise FormatError(path, f"{KINDS[kind[i]]} ends at {end_time[i]:g} ms, before it starts or never", line=int(src[i]), field="endTime")
    order = np.argsort(time, kind="stable")
    return HitObjects(
        time=time[order], x=x[order], y=y[order], kind=kind[order], end_time=end_time[order],
        end_x=end_x[order], end_y=end_y[order], new_combo=combo[order], line=src[order],
    )
