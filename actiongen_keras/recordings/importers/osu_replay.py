"""Read and write osu! replays: the binary ``.osr`` file and the ``frames_csv`` layout.

``.osr`` layout (all little-endian; "string" is osu!'s ULEB128 string: a byte ``0x00``
for "absent" or ``0x0b`` followed by a ULEB128 length and that many UTF-8 bytes)::

    byte mode, int version, string beatmap_md5, string player, string replay_md5,
    short n300, n100, n50, ngeki, nkatu, nmiss, int score, short max_combo,
    byte perfect, int mods, string life_bar, long timestamp,
    int compressed_length, LZMA (FORMAT_ALONE) data,
    long online_score_id   (version >= 20140721)
    double target_practice (only with the TargetPractice mod)

The LZMA data hold ASCII frames ``w|x|y|z,`` where ``w`` is milliseconds since the
previous frame (map time), ``x``/``y`` the cursor in osu! pixels (in osu!mania ``x`` is
a bitmask of held columns) and ``z`` the key bitmask (:data:`KEY_BITS`). The first two
frames are dummies at ``y = -500``; the last frame may be ``-12345|0|0|<rng seed>``.

Frames are parsed with NumPy (no per-frame Python loop). Every problem raises
:class:`~actiongen_keras.errors.FormatError` naming the file and the byte offset or
frame number.

Writing (:func:`pack_osr` / :func:`write_osr`) is the same layout back, and
:func:`std_frames` turns session events into osu!std frames with :data:`STD_INPUTS`, the
table the importer reads frames with, so reading what was written gives the events back.
"""

from __future__ import annotations

import dataclasses
import gzip
import lzma
import struct
import zlib
from pathlib import Path

import numpy as np

from actiongen_keras.errors import FormatError

MODES = {0: "osu!std", 1: "osu!taiko", 2: "osu!catch", 3: "osu!mania"}

# Mod bits of the replay's ``mods`` int, with the two-letter names index.csv uses.
MOD_BITS = {
    "NF": 1, "EZ": 2, "TD": 4, "HD": 8, "HR": 16, "SD": 32, "DT": 64, "RX": 128,
    "HT": 256, "NC": 512, "FL": 1024, "AT": 2048, "SO": 4096, "AP": 8192, "PF": 16384,
    "4K": 32768, "5K": 65536, "6K": 131072, "7K": 262144, "8K": 524288, "FI": 1048576,
    "RD": 2097152, "CN": 4194304, "TP": 8388608, "9K": 16777216, "CO": 33554432,
    "1K": 67108864, "3K": 134217728, "2K": 268435456, "V2": 536870912, "MR": 1073741824,
}
KEY_BITS = {"M1": 1, "M2": 2, "K1": 4, "K2": 8, "SMOKE": 16}
#: The osu!std inputs of a frame's key bitmask and the session events they are, read by the
#: importer and written by :func:`std_frames`: ``(bit, field, name, bits written while held,
#: bit that hides it)``. osu! sets M1 together with K1 and M2 with K2, so a mouse button
#: counts only while its key's bit is clear, and a held key writes both bits.
STD_INPUTS = (
    ("K1", "key", "k1", KEY_BITS["K1"] | KEY_BITS["M1"], None),
    ("K2", "key", "k2", KEY_BITS["K2"] | KEY_BITS["M2"], None),
    ("M1", "button", "left", KEY_BITS["M1"], "K1"),
    ("M2", "button", "right", KEY_BITS["M2"], "K2"),
)
#: The event types an input's bit turning on / off is, per field of :data:`STD_INPUTS`.
STD_EVENTS = {"key": ("key_down", "key_up"), "button": ("press", "release")}
RNG_SEED_W = -12345
DUMMY_Y = -500.0
# The newest osu! client writes an online score id after the frames from this version on.
ONLINE_ID_VERSION = 20140721
#: The game version written into exported replays (a recent client's format: with the RNG
#: seed frame and the online score id).
WRITE_VERSION = 20210520
# LZMA headers may ask for a huge dictionary; a real replay needs a few MiB.
_LZMA_MEMLIMIT = 256 * 2**20


def mods_to_names(mods):
    """Two-letter names of the set mod bits, e.g. ``72 -> ['HD', 'DT']`` (``[]`` for no mod)."""
    return [name for name, bit in MOD_BITS.items() if mods & bit]


def mods_from_names(text):
    """Mods int from a name string such as ``"HDHRDT"`` or ``"NM"`` (unknown pairs raise ValueError)."""
    text = (text or "").strip().upper()
    if text in ("", "NM", "NONE"):
        return 0
    if len(text) % 2:
        raise ValueError(f"mods {text!r}: not a sequence of two-letter mod names")
    mods = 0
    for i in range(0, len(text), 2):
        name = text[i : i + 2]
        if name not in MOD_BITS:
            raise ValueError(f"mods {text!r}: unknown mod '{name}'")
        mods |= MOD_BITS[name]
    return mods


def speed_of(mods):
    """Game speed: 1.5 with DT/NC, 0.75 with HT, else 1."""
    if mods & (MOD_BITS["DT"] | MOD_BITS["NC"]):
        return 1.5
    if mods & MOD_BITS["HT"]:
        return 0.75
    return 1.0


@dataclasses.dataclass
class Frames:
    """Replay frames after removing the dummies and the RNG-seed frame.

    ``t_ms`` is cumulative *map* time (negative during the lead-in); ``number`` is each
    frame's 1-based position in the source (frame number in the ``.osr`` data, line
    number in a CSV), so messages can point at it.
    """

    t_ms: np.ndarray
    x: np.ndarray
    y: np.ndarray
    keys: np.ndarray
    number: np.ndarray
    dummies: int = 0
    rng_seed: int | None = None

    def __len__(self):
        return len(self.t_ms)


@dataclasses.dataclass
class Replay:
    """One replay: header fields and its :class:`Frames`."""

    path: str
    mode: int
    version: int
    beatmap_md5: str
    player: str
    replay_md5: str
    counts: dict
    score: int
    max_combo: int
    perfect: bool
    mods: int
    life_bar: str
    timestamp: int
    frames: Frames
    online_id: int | None = None

    @property
    def mode_name(self):
        return MODES.get(self.mode, f"mode {self.mode}")

    @property
    def mod_names(self):
        return mods_to_names(self.mods)


class _Reader:
    """Sequential little-endian reads that raise FormatError with the byte offset."""

    def __init__(self, data, path):
        self.data = data
        self.path = path
        self.pos = 0

    def take(self, n, what):
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError(
                self.path, f"truncated at byte {self.pos}: {what} needs {n} byte(s), {len(self.data) - self.pos} left", field=what
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def unpack(self, fmt, what):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))[0]

    def uleb(self, what):
        value, shift = 0, 0
        while True:
            b = self.take(1, what)[0]
            value |= (b & 0x7F) << shift
            if not b & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise FormatError(self.path, f"byte {self.pos}: {what}: ULEB128 length longer than 9 bytes", field=what)

    def string(self, what):
        start = self.pos
        flag = self.take(1, what)[0]
        if flag == 0x00:
            return ""
        if flag != 0x0B:
            raise FormatError(self.path, f"byte {start}: {what}: string must start with 0x00 or 0x0b, got 0x{flag:02x}", field=what)
        n = self.uleb(what)
        raw = self.take(n, what)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise FormatError(self.path, f"byte {start}: {what}: not UTF-8 ({e.reason})", field=what) from None


def parse_osr(data, path="<bytes>"):
    """Parse the bytes of an ``.osr`` file into a :class:`Replay`.

    Raises:
        FormatError: truncated or corrupt header, LZMA data or frames (message names
            ``path`` and the byte offset or frame number).
    """
    r = _Reader(bytes(data), str(path))
    if not r.data:
        raise FormatError(path, "empty file")
    mode = r.unpack("B", "mode")
    if mode not in MODES:
        raise FormatError(path, f"byte 0: mode must be 0-3, got {mode}", field="mode")
    version = r.unpack("i", "version")
    beatmap_md5 = r.string("beatmap_md5")
    player = r.string("player")
    replay_md5 = r.string("replay_md5")
    counts = {k: r.unpack("H", k) for k in ("n300", "n100", "n50", "ngeki", "nkatu", "nmiss")}
    score = r.unpack("i", "score")
    max_combo = r.unpack("H", "max_combo")
    perfect = bool(r.unpack("B", "perfect"))
    mods = r.unpack("I", "mods")
    life_bar = r.string("life_bar")
    timestamp = r.unpack("q", "timestamp")
    length = r.unpack("i", "compressed_length")
    start = r.pos
    if length < 0:
        raise FormatError(path, f"byte {start - 4}: negative compressed length {length}", field="compressed_length")
    blob = r.take(length, "replay_data")
    online_id = None
    if version >= ONLINE_ID_VERSION and r.pos + 8 <= len(r.data):
        online_id = r.unpack("q", "online_score_id")
    if length == 0:
        raise FormatError(path, f"byte {start}: replay has no frame data (compressed length 0)", field="replay_data")
    try:
        text = lzma.decompress(blob, format=lzma.FORMAT_ALONE, memlimit=_LZMA_MEMLIMIT)
    except (lzma.LZMAError, EOFError, MemoryError) as e:
        raise FormatError(path, f"bytes {start}-{start + length}: corrupt LZMA frame data ({e})", field="replay_data") from None
    frames = parse_frames(text, f"{path}#frame")
    return Replay(
        path=str(path), mode=mode, version=version, beatmap_md5=beatmap_md5, player=player, replay_md5=replay_md5,
        counts=counts, score=score, max_combo=max_combo, perfect=perfect, mods=mods, life_bar=life_bar,
        timestamp=timestamp, frames=frames, online_id=online_id,
    )


def read_osr(path):
    """Read and parse an ``.osr`` file (see :func:`parse_osr`)."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise FormatError(path, f"cannot read file ({e.__class__.__name__}: {e})") from None
    return parse_osr(data, path)


def _numbers(fields, path, numbers, width):
    """``fields`` (a flat list of strings, ``width`` per row) as a float64 matrix."""
    try:
        values = np.array(fields, dtype=np.float64)
    except ValueError:
        for i, v in enumerate(fields):
            try:
                float(v)
            except ValueError:
                raise FormatError(path, f"'{v[:40]}' is not a number", line=int(numbers[i // width])) from None
        raise FormatError(path, "unreadable numbers") from None
    return values.reshape(-1, width)


def _finish(t_step, xyz, numbers, path, cumulative):
    """Common tail of both layouts: check w/keys, drop dummies and the seed frame."""
    w, x, y, keys = t_step, xyz[:, 0], xyz[:, 1], xyz[:, 2]
    seed = None
    if not cumulative and len(w) and w[-1] == RNG_SEED_W:
        seed = int(keys[-1]) if np.isfinite(keys[-1]) else None
        w, x, y, keys, numbers = w[:-1], x[:-1], y[:-1], keys[:-1], numbers[:-1]
    bad_w = ~np.isfinite(w) | (w != np.round(w))
    if bad_w.any():
        i = int(np.flatnonzero(bad_w)[0])
        raise FormatError(path, f"time {w[i]!r} is not a whole number of ms", line=int(numbers[i]), field="w")
    bad_k = ~np.isfinite(keys) | (keys != np.round(keys)) | (keys < 0) | (keys > 2**31)
    if bad_k.any():
        i = int(np.flatnonzero(bad_k)[0])
        raise FormatError(path, f"key bitmask {keys[i]!r} is not a non-negative integer", line=int(numbers[i]), field="keys")
    t = w if cumulative else np.cumsum(w)
    # The first (up to) two frames are placeholders at y = -500; their time still counts.
    head = min(2, len(y))
    dummy = np.zeros(len(y), dtype=bool)
    dummy[:head] = y[:head] == DUMMY_Y
    keep = ~dummy
    return Frames(
        t_ms=t[keep].astype(np.float64), x=x[keep], y=y[keep], keys=keys[keep].astype(np.int64),
        number=numbers[keep], dummies=int(dummy.sum()), rng_seed=seed,
    )


def parse_frames(data, path="<frames>"):
    """Parse the decompressed ``w|x|y|z,`` text (bytes) into :class:`Frames`.

    Vectorised: the separators are checked to follow the ``| | | ,`` pattern as one
    array comparison, then all numbers are converted at once.
    """
    if isinstance(data, str):
        data = data.encode("utf-8", "replace")
    buf = np.frombuffer(data, dtype=np.uint8)
    allowed = np.zeros(256, dtype=bool)
    allowed[np.frombuffer(b"0123456789.-+eE|,naifNAIF \t\r\n", dtype=np.uint8)] = True
    if not allowed[buf].all():
        i = int(np.flatnonzero(~allowed[buf])[0])
        frame = int(np.count_nonzero(buf[:i] == ord(",")) + 1)
        raise FormatError(path, f"unexpected byte 0x{buf[i]:02x} at offset {i} of the frame data", line=frame)
    text = data.decode("ascii").strip()
    if not text.endswith(","):
        text += ","
    if text == ",":
        raise FormatError(path, "replay has no frames")
    seps = np.frombuffer(text.encode("ascii"), dtype=np.uint8)
    seps = seps[(seps == ord("|")) | (seps == ord(","))]
    commas = np.flatnonzero(seps == ord(","))
    per_frame = np.diff(np.r_[-1, commas]) - 1  # '|' count of each frame
    if (per_frame != 3).any():
        i = int(np.flatnonzero(per_frame != 3)[0])
        raise FormatError(path, f"frame has {per_frame[i] + 1} field(s), expected 4 (w|x|y|z)", line=i + 1)
    fields = text[:-1].replace("|", ",").split(",")
    numbers = np.arange(1, len(commas) + 1, dtype=np.int64)
    m = _numbers(fields, path, numbers, 4)
    return _finish(m[:, 0], m[:, 1:], numbers, path, cumulative=False)


def read_frames_csv(path):
    """Read a ``frames_csv/<file>.csv.gz`` (``t_ms,x,y,keys``, cumulative map time) as :class:`Frames`.

    Frame numbers are CSV line numbers (the header is line 1).
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if path.suffix == ".gz":
            raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise FormatError(path, f"cannot read file ({e.__class__.__name__}: {e})") from None
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as e:
        raise FormatError(path, "not ASCII text", line=raw[: e.start].count(b"\n") + 1) from None
    lines = text.replace("\r\n", "\n").strip("\n").split("\n")
    if not lines or not lines[0].strip():
        raise FormatError(path, "empty file (no header)", line=1)
    header = [h.strip() for h in lines[0].split(",")]
    if header != ["t_ms", "x", "y", "keys"]:
        raise FormatError(path, f"header must be t_ms,x,y,keys, got {lines[0][:80]!r}", line=1)
    body = lines[1:]
    if not body:
        raise FormatError(path, "no frames", line=2)
    joined = "\n".join(body)
    seps = np.frombuffer(joined.encode("ascii"), dtype=np.uint8)
    seps = seps[(seps == ord(",")) | (seps == ord("\n"))]
    newlines = np.flatnonzero(seps == ord("\n"))
    per_line = np.diff(np.r_[-1, newlines, len(seps)]) - 1  # commas per line
    if (per_line != 3).any():
        i = int(np.flatnonzero(per_line != 3)[0])
        raise FormatError(path, f"has {per_line[i] + 1} field(s), expected 4 (t_ms,x,y,keys)", line=i + 2)
    fields = joined.replace("\n", ",").split(",")
    numbers = np.arange(2, len(body) + 2, dtype=np.int64)
    m = _numbers(fields, path, numbers, 4)
    return _finish(m[:, 0], m[:, 1:], numbers, path, cumulative=True)


# --------------------------------------------------------------------------- writing


def std_held(keys):
    """``{name: held per frame}`` of the :data:`STD_INPUTS` in an array of key bitmasks."""
    keys = np.asarray(keys, dtype=np.int64)
    held = {}
    for bit, _, name, _, hidden_by in STD_INPUTS:
        on = (keys & KEY_BITS[bit]) > 0
        held[name] = on & ~((keys & KEY_BITS[hidden_by]) > 0) if hidden_by else on
    return held


def std_frames(map_ms, events):
    """osu!std frames of session events, as the importer reads frames back into events.

    ``map_ms``: each event's time in map ms. A frame starts at each move and at each new
    time (the importer turns a frame into its move, then its releases, then its presses,
    so two moves at one time are two frames, ``w = 0``). A frame carries the position of
    its last event and the key bits of the inputs held after it (:data:`STD_INPUTS`);
    other event types (scrolls, other keys or buttons) leave the bits as they are.
    Returns ``(t_ms, x, y, keys)``, ``t_ms`` cumulative map time in whole ms (osu! frames
    count whole ms).
    """
    n = len(events)
    idx = np.arange(n)
    typ = np.asarray(events.type, dtype=object)
    keys = np.zeros(n, dtype=np.int64)
    for _, field, name, bits, _ in STD_INPUTS:
        col = np.asarray(events.key if field == "key" else events.button, dtype=object)
        down, up = STD_EVENTS[field]
        on, off = (typ == down) & (col == name), (typ == up) & (col == name)
        last = np.maximum.accumulate(np.where(on | off, idx, -1))  # the input's last change so far
        held = (last >= 0) & on[np.maximum(last, 0)]
        keys |= np.where(held, bits, 0)
    t = np.asarray(map_ms, dtype=np.float64)
    end = np.r_[(t[1:] != t[:-1]) | (typ[1:] == "move"), True] if n else np.zeros(0, dtype=bool)  # a frame's last event
    return np.round(t[end]).astype(np.int64), events.x[end], events.y[end], keys[end]


def _uleb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text):
    if not text:
        return b"\x00"
    raw = text.encode("utf-8")
    return b"\x0b" + _uleb(len(raw)) + raw


def _num(a):
    """Frame numbers as osu! writes them: whole numbers bare, others to 1/10000."""
    return [np.format_float_positional(v, precision=4, trim="-") for v in np.asarray(a, dtype=np.float64).tolist()]


def frames_text(frames):
    """The ``w|x|y|z,`` text of :class:`Frames` (times cumulative, whole ms) with the two dummies first."""
    t = np.asarray(frames.t_ms, dtype=np.int64)
    # dummies at 0 and -1 ms: the first real frame's w counts from -1 (their times count, see _finish)
    w = np.diff(np.r_[-1, t])
    rows = ["0|256|-500|0", "-1|256|-500|0"]
    rows += [f"{a}|{b}|{c}|{d}" for a, b, c, d in zip(w.tolist(), _num(frames.x), _num(frames.y), np.asarray(frames.keys).tolist())]
    rows.append(f"{RNG_SEED_W}|0|0|{int(frames.rng_seed or 0)}")
    return ",".join(rows) + ","


def pack_osr(replay):
    """The bytes of an ``.osr`` file for a :class:`Replay` (the layout :func:`parse_osr` reads)."""
    data = lzma.compress(frames_text(replay.frames).encode("ascii"), format=lzma.FORMAT_ALONE)
    c = replay.counts
    out = [
        struct.pack("<Bi", replay.mode, replay.version),
        _string(replay.beatmap_md5), _string(replay.player), _string(replay.replay_md5),
        struct.pack("<6H", *(int(c.get(k, 0)) for k in ("n300", "n100", "n50", "ngeki", "nkatu", "nmiss"))),
        struct.pack("<iHBI", int(replay.score), int(replay.max_combo), int(bool(replay.perfect)), int(replay.mods)),
        _string(replay.life_bar),
        struct.pack("<qi", int(replay.timestamp), len(data)),
        data,
    ]
    if replay.version >= ONLINE_ID_VERSION:
        out.append(struct.pack("<q", int(replay.online_id or 0)))
    return b"".join(out)


def write_osr(replay, path):
    """Write :func:`pack_osr` to ``path`` (through a temporary file, so a failed write leaves no half file)."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(pack_osr(replay))
    tmp.replace(path)
    return path
