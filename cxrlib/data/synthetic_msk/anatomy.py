"""SynthMSK anatomy: each body part as a set of capsules ("slots"), drawn with numpy for many images at once.

A slot is a segment ``a → b`` with a radius that flares towards either end (the epiphyses of a long
bone), rendered as a tube with a cortical rim (``BONE``), a flat plate (``PLATE``: scapula, glenoid,
ribs), metal (``METAL``: screws, plates) or a plaster cast (``CAST``). A ball is a slot with ``a = b``.
Points are complex numbers ``x + iy`` in the body part's own frame (``x`` to the right, ``y`` down, the
image spanning about ``[-1, 1]`` before the pose's zoom); ``UP = -1j``.

One function per body part (``BODY_PARTS``) lays out the bones of ``n`` images, each argument an
``(n,)`` array: ``size`` (the patient's bone size factor) and ``lateral`` (a lateral projection,
where paired bones overlap and joints flex). Layouts vary by design so that the classes overlap the
way real films do: a lateral forearm shows one shaft like a humerus, a magnified hand looks like a
wrist, a finger film shows neighbouring fingers and a metacarpal, an extended elbow shows shafts.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

__all__ = [
    "BONE",
    "PLATE",
    "METAL",
    "CAST",
    "UP",
    "SLOT_FIELDS",
    "MAX_SLOTS",
    "Slots",
    "BODY_PARTS",
    "BASE_ZOOM",
    "SOFT_TISSUE_MARGIN",
]

BONE, PLATE, METAL, CAST = 0, 1, 2, 3
UP = -1j
#: the per-slot parameters, each an ``(n, MAX_SLOTS)`` array in the parameter set
SLOT_FIELDS = ("ax", "ay", "bx", "by", "radius", "flare_a", "flare_b", "cortex", "density", "kind", "long", "active")
#: slots per image: a hand has 29 bones, plus a fracture's second fragment, a plate with three screws and a cast
MAX_SLOTS = 36

Array = np.ndarray


def cis(angle: Array | float) -> Array:
    """Unit complex number at ``angle`` radians."""
    return np.exp(1j * np.asarray(angle))


class Slots:
    """The slots of ``n`` images, added one slot (an ``(n,)`` value per field) at a time."""

    def __init__(self, n: int):
        self.n = n
        self._slots: list[dict[str, Array]] = []

    def add(
        self,
        a: Array,
        b: Array,
        radius: Array | float,
        *,
        flare_a: Array | float = 0.0,
        flare_b: Array | float = 0.0,
        cortex: Array | float = 0.28,
        density: Array | float = 1.0,
        kind: int = BONE,
        long: bool = False,
        active: Array | bool = True,
    ) -> None:
        """A capsule from ``a`` to ``b`` (complex); ``cortex`` is the cortical thickness as a fraction of
        the radius; ``flare_a``/``flare_b`` widen the radius by that fraction at the ends; ``long``: a
        long bone (where fractures, hardware and casts go)."""
        full = lambda x: np.broadcast_to(np.asarray(x), (self.n,))  # noqa: E731
        a, b = full(a).astype(complex), full(b).astype(complex)
        self._slots.append(
            {
                "ax": a.real,
                "ay": a.imag,
                "bx": b.real,
                "by": b.imag,
                "radius": full(radius).astype(float),
                "flare_a": full(flare_a).astype(float),
                "flare_b": full(flare_b).astype(float),
                "cortex": full(cortex).astype(float),
                "density": full(density).astype(float),
                "kind": full(kind).astype(float),
                "long": full(long).astype(float),
                "active": full(active).astype(float),
            }
        )

    def ball(self, centre: Array, radius: Array | float, **kw) -> None:
        self.add(centre, centre, radius, **kw)

    def arrays(self, width: int = MAX_SLOTS) -> dict[str, Array]:
        """``{field: (n, width)}``, the unused slots inactive (zero)."""
        if len(self._slots) > width:
            raise ValueError(f"{len(self._slots)} slots do not fit in {width}")
        out = {f: np.zeros((self.n, width)) for f in SLOT_FIELDS}
        for j, slot in enumerate(self._slots):
            for f in SLOT_FIELDS:
                out[f][:, j] = slot[f]
        return out


def _chain(slots: Slots, start: Array, direction: Array, parts, gap: Array, **kw) -> Array:
    """Bones end to end from ``start`` along ``direction`` (complex unit), each ``(length, radius, flare_a,
    flare_b, bend)`` with ``bend`` the flexion (radians) before it; returns the end of the last one."""
    p, d = start, direction
    for length, radius, flare_a, flare_b, bend in parts:
        d = d * cis(bend)
        a = p + gap * d
        p = a + length * d
        slots.add(a, p, radius, flare_a=flare_a, flare_b=flare_b, long=True, **kw)
    return p


def humerus(rng: np.random.Generator, size: Array, lateral: Array) -> Slots:
    """One thick shaft along the image with the humeral head above or the elbow below, as the film's
    field of view slides along the arm."""
    n = len(size)
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    s = Slots(n)
    r = 0.125 * size * U(0.85, 1.15)
    length = 2.7 * size
    shift = U(-0.7, 0.7)
    top, bottom = 1j * (shift - length / 2), 1j * (shift + length / 2)
    tilt = U(-0.06, 0.06)
    bottom = top + (bottom - top) * cis(tilt)
    s.add(top, bottom, r, flare_a=0.4, flare_b=U(0.6, 1.0), long=True)
    s.ball(top + 0.05 * size + 0.04j * size, 0.24 * size * U(0.9, 1.1), cortex=0.12)
    s.ball(top + 0.2 * size + 0.08j * size, 0.08 * size, cortex=0.2)
    elbow = rng.random(n) < 0.45
    sep = np.where(lateral, 0.02, 0.1) * size
    s.add(bottom + 0.08j + sep, bottom + 1.0j + sep * 1.3, 0.06 * size, flare_a=0.5, active=elbow)
    s.add(bottom + 0.03j - sep, bottom + 1.0j - sep * 1.2, 0.065 * size, flare_a=0.9, active=elbow)
    glenoid = rng.random(n) < 0.3
    s.add(top - 0.32 - 0.15j, top - 0.3 + 0.22j, 0.06 * size, kind=PLATE, density=0.8, active=glenoid)
    return s


def forearm(rng: np.random.Generator, size: Array, lateral: Array) -> Slots:
    """Radius and ulna side by side over the whole film (superimposed in a lateral projection), the
    wrist's carpals or the distal humerus sometimes at an edge."""
    n = len(size)
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    s = Slots(n)
    length = 2.5 * size
    shift = U(-0.5, 0.5)
    y_top, y_bottom = shift - length / 2, shift + length / 2
    sep = np.where(lateral, U(0.03, 0.1), U(0.12, 0.24)) * size  # lateral: partly superimposed
    cross = U(-0.6, 1.0)  # pronation brings the radius across the ulna
    s.add(
        -sep / 2 + 1j * y_top,
        -sep / 2 * cross + 1j * y_bottom,
        0.07 * size * U(0.85, 1.15),
        flare_a=U(0.6, 1.0),
        flare_b=0.4,
        long=True,
    )
    s.add(
        sep / 2 + 1j * (y_top + 0.08),
        sep / 2 + 1j * (y_bottom + 0.06),
        0.06 * size * U(0.85, 1.15),
        flare_a=0.3,
        flare_b=U(0.6, 1.0),
        long=True,
    )
    carpals = rng.random(n) < 0.35
    for x in (-0.12, 0.0, 0.12):
        s.ball(x * size + 1j * (y_top - 0.16 * size), 0.055 * size, active=carpals)
    elbow = rng.random(n) < 0.35
    s.add(1j * (y_bottom + 0.12), 1j * (y_bottom + 0.9), 0.11 * size, flare_a=0.9, active=elbow)
    return s


def elbow(rng: np.random.Generator, size: Array, lateral: Array) -> Slots:
    """The distal humerus with its condyles meeting radius and ulna (with the olecranon), extended in
    the frontal projection and flexed in the lateral one."""
    n = len(size)
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    s = Slots(n)
    flex = np.where(lateral, U(0.9, 1.9), U(-0.3, 0.3))
    joint = U(-0.1, 0.1) + 1j * U(-0.2, 0.15)
    s.add(joint + 0.03 * UP, joint + 2.0 * UP, 0.12 * size * U(0.85, 1.15), flare_a=U(0.7, 1.1), long=True)
    d = 1j * cis(flex)  # the forearm's direction: down, flexed
    across = d * 1j
    sep_r, sep_u = np.where(lateral, 0.03, 0.11) * size, np.where(lateral, -0.03, -0.08) * size
    s.add(joint + 0.1 * d + sep_r * across, joint + 2.0 * d + sep_r * across, 0.065 * size, flare_a=0.5, long=True)
    s.add(joint + 0.02 * d + sep_u * across, joint + 2.0 * d + sep_u * across, 0.07 * size, flare_a=0.6, long=True)
    s.ball(joint - 0.08 * d + sep_u * across, 0.085 * size, cortex=0.2)  # olecranon
    s.ball(joint + 0.06 * UP - 0.2 * size, 0.06 * size, cortex=0.2, active=~lateral)  # medial epicondyle
    return s


def finger(rng: np.random.Generator, size: Array, lateral: Array) -> Slots:
    """A magnified finger: metacarpal head and three phalanges with joint gaps, neighbouring fingers
    at the edges now and then."""
    n = len(size)
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    s = Slots(n)
    f = size * U(0.85, 1.15)
    x0 = U(-0.1, 0.1)
    mcp = x0 + 0.8j * f
    s.add(x0 + 2.2j * f, mcp, 0.1 * f, flare_b=0.45, long=True)
    lat = lateral.astype(float)
    parts = [
        (0.78 * f, 0.085 * f, 0.45, 0.3, U(-0.12, 0.12) + lat * U(0.0, 0.4)),
        (0.5 * f, 0.075 * f, 0.35, 0.3, U(0.0, 0.2) + lat * U(0.0, 0.6)),
        (0.34 * f, 0.065 * f, 0.35, 0.5, U(0.0, 0.15) + lat * U(0.0, 0.4)),
    ]
    _chain(s, mcp, UP * np.ones(n), parts, 0.06 * f)
    for side, p in ((-1, 0.6), (1, 0.45)):
        present = rng.random(n) < p
        x = x0 + side * U(0.5, 0.75) * f
        head = x + 0.9j * f
        s.add(x + 2.2j * f, head, 0.09 * f, flare_b=0.4, active=present)
        s.add(head + 0.06 * UP, head + 0.75 * UP * f, 0.08 * f, flare_a=0.4, flare_b=0.3, active=present)
    return s


def hand(rng: np.random.Generator, size: Array, lateral: Array) -> Slots:
    """Carpus, five metacarpals and fourteen phalanges fanning out (folded together in a lateral
    projection), the distal radius and ulna below."""
    n = len(size)
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    s = Slots(n)
    spread = np.where(lateral, 0.25, 1.0) * U(0.8, 1.25)
    carpus = 0.55j + U(-0.1, 0.1)
    for dy, xs in ((0.1, (-0.18, -0.06, 0.06, 0.17)), (-0.06, (-0.2, -0.07, 0.06, 0.18))):
        for x in xs:
            s.ball(carpus + (x * spread + 1j * dy) * size, U(0.045, 0.06) * size, cortex=0.3)
    s.add(carpus + (-0.12 * spread + 0.22j) * size, carpus + (-0.14 + 1.4j) * size, 0.08 * size, flare_a=0.8, long=True)
    s.add(carpus + (0.15 * spread + 0.24j) * size, carpus + (0.15 + 1.4j) * size, 0.055 * size, flare_a=0.3, long=True)
    lat = lateral.astype(float)
    offsets = (-0.15, -0.05, 0.05, 0.15)
    angles = (-0.22, -0.07, 0.07, 0.2)
    lengths = ((0.58, 0.38, 0.24, 0.17), (0.62, 0.42, 0.27, 0.18), (0.6, 0.4, 0.26, 0.18), (0.52, 0.33, 0.2, 0.16))
    for x, angle, (meta, prox, mid, dist) in zip(offsets, angles, lengths):
        base = carpus + (x * spread - 0.16j) * size
        direction = UP * cis(angle * spread)
        head = base + meta * size * direction
        s.add(base, head, 0.04 * size, flare_a=0.3, flare_b=0.4, long=True)
        parts = [
            (prox * size, 0.034 * size, 0.4, 0.3, U(-0.05, 0.1) + lat * U(0.0, 0.5)),
            (mid * size, 0.03 * size, 0.3, 0.3, U(0.0, 0.15) + lat * U(0.0, 0.6)),
            (dist * size, 0.027 * size, 0.3, 0.5, U(0.0, 0.1) + lat * U(0.0, 0.3)),
        ]
        _chain(s, head, direction, parts, 0.035 * size)
    thumb_base = carpus + (-0.25 * spread - 0.04j) * size
    thumb_dir = UP * cis(-0.75 - U(0.0, 0.3))
    thumb_head = thumb_base + 0.4 * size * thumb_dir
    s.add(thumb_base, thumb_head, 0.045 * size, flare_a=0.3, flare_b=0.4, long=True)
    parts = [(0.3 * size, 0.04 * size, 0.4, 0.3, U(0.0, 0.3)), (0.22 * size, 0.034 * size, 0.3, 0.5, U(0.0, 0.3))]
    _chain(s, thumb_head, thumb_dir, parts, 0.035 * size)
    return s


def wrist(rng: np.random.Generator, size: Array, lateral: Array) -> Slots:
    """A magnified carpus in two rows of four, the distal radius and ulna below and the bases of the
    five metacarpals above (folded together in a lateral projection)."""
    n = len(size)
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    s = Slots(n)
    squeeze = np.where(lateral, 0.4, 1.0)
    centre = U(-0.1, 0.1) + 1j * U(-0.15, 0.15)
    for dy, xs in ((0.17, (-0.3, -0.1, 0.1, 0.28)), (-0.1, (-0.33, -0.11, 0.1, 0.3))):
        for x in xs:
            s.ball(centre + (x * squeeze + 1j * dy) * size, U(0.075, 0.1) * size, cortex=0.3)
    s.add(centre + (-0.16 * squeeze + 0.44j) * size, centre + (-0.2 + 2.2j) * size, 0.13 * size, flare_a=0.7, long=True)
    s.add(centre + (0.24 * squeeze + 0.47j) * size, centre + (0.22 + 2.2j) * size, 0.08 * size, flare_a=0.35, long=True)
    for x, angle in ((-0.4, -0.6), (-0.2, -0.2), (-0.03, -0.05), (0.13, 0.08), (0.28, 0.22)):
        base = centre + (x * squeeze - 0.33j) * size
        s.add(base, base + 1.3 * size * UP * cis(angle * squeeze), 0.065 * size, flare_a=0.35, long=True)
    return s


def shoulder(rng: np.random.Generator, size: Array, lateral: Array) -> Slots:
    """The humeral head against the glenoid, the scapula as a plate, clavicle, acromion, coracoid and
    ribs, the proximal humeral shaft going down."""
    n = len(size)
    U = lambda lo, hi: rng.uniform(lo, hi, n)  # noqa: E731
    s = Slots(n)
    head = U(0.05, 0.25) + 1j * U(-0.2, 0.05)
    s.ball(head, 0.3 * size * U(0.88, 1.12), cortex=0.12)
    s.add(head + 0.1j * size, head + (0.15 + 1.9j) * size, 0.15 * size, flare_a=0.6, long=True)
    glenoid_x = np.where(lateral, -0.2, -0.33)
    s.add(head + (glenoid_x - 0.22j) * size, head + (glenoid_x + 0.18j) * size, 0.06 * size, kind=PLATE, density=0.9)
    s.add(head + (-0.5 - 0.1j) * size, head + (-1.0 + 1.1j) * size, 0.32 * size, kind=PLATE, density=0.35)
    s.add(head + (-0.2 - 0.42j) * size, head + (0.25 - 0.42j) * size, 0.075 * size)  # acromion
    mid = head + (-0.8 - 0.72j) * size
    s.add(head + (-1.6 - 0.78j) * size, mid, 0.075 * size, long=True)  # clavicle
    s.add(mid, head + (0.05 - 0.5j) * size, 0.075 * size, flare_b=0.3, long=True)
    s.add(head + (-0.35 - 0.3j) * size, head + (-0.15 - 0.22j) * size, 0.05 * size)  # coracoid
    for k in range(3):
        y = 0.1 + 0.35 * k
        s.add(
            head + (-1.5 + 1j * y) * size, head + (-0.6 + 1j * (y + 0.3)) * size, 0.035 * size, kind=PLATE, density=0.3
        )
    return s


#: body part (MURA's name) → layout function ``(rng, size (n,), lateral (n,) bool) -> Slots``
BODY_PARTS: dict[str, Callable[[np.random.Generator, Array, Array], Slots]] = {
    "XR_ELBOW": elbow,
    "XR_FINGER": finger,
    "XR_FOREARM": forearm,
    "XR_HAND": hand,
    "XR_HUMERUS": humerus,
    "XR_SHOULDER": shoulder,
    "XR_WRIST": wrist,
}
#: the film's magnification per body part (frame units → image units), before the per-image spread
BASE_ZOOM = {
    "XR_ELBOW": 0.85,
    "XR_FINGER": 0.85,
    "XR_FOREARM": 0.8,
    "XR_HAND": 0.85,
    "XR_HUMERUS": 0.75,
    "XR_SHOULDER": 0.8,
    "XR_WRIST": 0.95,
}
#: soft tissue around the bones, frame units, before the per-image spread
SOFT_TISSUE_MARGIN = {
    "XR_ELBOW": 0.3,
    "XR_FINGER": 0.14,
    "XR_FOREARM": 0.22,
    "XR_HAND": 0.1,
    "XR_HUMERUS": 0.3,
    "XR_SHOULDER": 0.5,
    "XR_WRIST": 0.22,
}
