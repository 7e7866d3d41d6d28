"""Rules of keypoint names: their words, their sides, the flip pairs they imply, and
the words a text encoder reads for them. Imported by ``models/`` (text conditions)
and ``datasets/`` (metainfo) alike; it imports neither.

Naming rules (docs/custom_keypoints.md): a name is split into words at ``_ - .``,
spaces, camelCase and digits (``L_F_Paw`` -> L, F, Paw; ``forelegL1`` -> foreleg, L,
1). A side is the word ``left``/``right`` or ``l``/``r`` anywhere (any case), or
``left``/``right`` inside a word (``leftear``, not ``cleft``). Two names are a flip
pair when their other words agree (in order, ignoring case) and their sides differ; a
name without a partner maps to itself. Names that look sided but find no partner, or
several, stay unpaired with a warning naming them.

Names become words by :func:`keypoint_phrase`: split at ``_ - .``, spaces, camelCase
and digits, lower case, the side (:func:`side_readings`: also ``L``/``R`` inside a
name and ``left``/``right`` inside a word) first, then :data:`ABBREVIATIONS`
(``l``/``r``/``f``/``b`` -> left/right/front/back, the joined words of animal-pose
tools: ``foreleg`` -> fore leg, ``antbase`` -> antenna base): ``L_F_Paw`` -> "left
front paw", ``forelegL1`` -> "left fore leg 1", ``antbaseR`` -> "right antenna base",
``leftear`` -> "left ear". A side with only indices (``L1A``, the insect legs of
DeepLabCut / Anipose fly projects) reads as a leg: "left leg 1 a". The 68 face
landmarks of COCO-WholeBody (``face-0`` ... ``face-67``) are named by their place in
the 300-W layout (:data:`FACE68`: "right jawline 1", "chin", "left eye outer corner",
"upper lip center", ...).
"""
import logging
import re
from typing import Dict, List, Optional, Sequence, Tuple, Union

from mmengine.logging import print_log

SIDES = {'left': 'left', 'l': 'left', 'right': 'right', 'r': 'right'}
_WORD = re.compile(r'[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+')
_SEPARATORS = re.compile(r'[_\-.\s]+')
ABBREVIATIONS = {
    'l': 'left', 'r': 'right', 'f': 'front', 'b': 'back',
    # joined words of the DeepPoseKit / DeepLabCut animal sets (fly, locust, zebra,
    # mice): split for the text encoder
    'foreleg': 'fore leg', 'midleg': 'middle leg', 'hindleg': 'hind leg',
    'forepaw': 'fore paw', 'hindpaw': 'hind paw', 'antbase': 'antenna base',
    'anttip': 'antenna tip', 'tailbase': 'tail base', 'tailtip': 'tail tip',
    'tailend': 'tail end'}


def split_name(name: str) -> List[str]:
    """Words of a keypoint name: split at ``_ - .``, spaces, camelCase, digits."""
    return [word for part in _SEPARATORS.split(name) for word in _WORD.findall(part)]


def side_readings(name: str) -> List[Tuple[str, Tuple[str, ...]]]:
    """Every way ``name`` can state a side: (``'left'`` / ``'right'``, the other
    words in lower case). A side word (``left``, ``R``) or ``left``/``right`` inside
    a word, whose pieces then count as words if none is a single letter
    (``frontleftpaw`` -> front, paw; not ``cleft``)."""
    words = [w.lower() for w in split_name(name)]
    readings = []
    for i, word in enumerate(words):
        if word in SIDES:
            readings.append((SIDES[word], tuple(words[:i] + words[i + 1:])))
            continue
        for side in ('left', 'right'):
            at = word.find(side)
            if at >= 0:
                parts = [p for p in (word[:at], word[at + len(side):]) if p]
                if all(len(p) > 1 for p in parts):
                    readings.append((side, tuple(words[:i] + parts + words[i + 1:])))
    return readings


def name_side(name: str) -> Tuple[Optional[str], Tuple[str, ...]]:
    """(``'left'`` / ``'right'`` / None, the other words in lower case): the first
    of :func:`side_readings`."""
    readings = side_readings(name)
    return readings[0] if readings else (None, tuple(w.lower() for w in split_name(name)))


def infer_flip_pairs(names: Sequence[str], path: str = '') -> List[Tuple[int, int]]:
    """Left/right pairs (left index, right index; sorted) inferred from the names
    (module docstring): two names pair when each is the other's only partner. Sided
    names without a partner, or with several, stay unpaired with a warning naming
    them (``path``: the file they come from)."""
    by_words: Dict[Tuple[str, ...], Dict[str, set]] = {}
    for i, name in enumerate(names):
        for side, rest in side_readings(name):
            by_words.setdefault(rest, {'left': set(), 'right': set()})[side].add(i)
    partners: Dict[int, set] = {}
    links = {}  # {left, right} -> (left, right)
    for group in by_words.values():
        for i in group['left'] | group['right']:
            partners.setdefault(i, set())
        for i in group['left']:
            for j in group['right'] - {i}:
                partners[i].add(j)
                partners[j].add(i)
                links.setdefault(frozenset((i, j)), (i, j))
    pairs = sorted(pair for pair in links.values()
                   if partners[pair[0]] == {pair[1]} and partners[pair[1]] == {pair[0]})
    paired = {i for pair in pairs for i in pair}
    alone = [names[i] for i in sorted(partners) if not partners[i]]
    ambiguous = [f'{names[i]!r} could pair with '
                 + ' or '.join(repr(names[j]) for j in sorted(partners[i]))
                 for i in sorted(partners) if partners[i] and i not in paired]
    prefix = f'{path}: ' if path else ''
    if alone:
        print_log(f'{prefix}keypoint names that look sided but have no partner on the other '
                  f'side: {alone}. Kept unpaired: each maps to itself in flip augmentation '
                  'and the flip test. If they are left/right keypoints, give all pairs '
                  'with --flip-pairs a:b,c:d.', 'current', level=logging.WARNING)
    if ambiguous:
        print_log(f'{prefix}ambiguous flip pairs, left unpaired (each maps to itself): '
                  f'{"; ".join(ambiguous)}. Give the pairs with --flip-pairs a:b,c:d.',
                  'current', level=logging.WARNING)
    return pairs


def parse_flip_pairs(spec: str, names: Sequence[str]) -> List[Tuple[int, int]]:
    """``'a:b,c:d'`` (keypoint names; ``''`` for none) -> index pairs."""
    pairs, seen = [], set()
    for item in filter(None, (s.strip() for s in spec.split(','))):
        pair = [s.strip() for s in item.split(':')]
        if len(pair) != 2 or not all(pair):
            raise ValueError(f'--flip-pairs: {item!r} is not a pair "name_a:name_b".')
        unknown = [n for n in pair if n not in names]
        if unknown:
            raise ValueError(f'--flip-pairs: {unknown} are not keypoint names; the '
                             f'names are {list(names)}.')
        if pair[0] == pair[1] or seen & set(pair):
            raise ValueError(f'--flip-pairs: {item!r} repeats a keypoint; each keypoint '
                             'belongs to at most one pair.')
        seen |= set(pair)
        pairs.append((names.index(pair[0]), names.index(pair[1])))
    return pairs


def flip_indices(num_keypoints: int, pairs: Sequence[Tuple[int, int]]) -> List[int]:
    """MMPose ``flip_indices``: each keypoint's partner, itself if unpaired."""
    indices = list(range(num_keypoints))
    for a, b in pairs:
        indices[a], indices[b] = b, a
    return indices


def _face68() -> List[str]:
    """Words for the 68 face landmarks of the 300-W layout (COCO-WholeBody's
    ``face-0`` ... ``face-67``, image-left = the person's right on a frontal face):
    jawline 0-16, eyebrows 17-26, nose 27-35, eyes 36-47, lips 48-67. Mirror points
    get the same words with the other side, counted from the outside in."""
    jaw = ([f'right jawline {i}' for i in range(1, 9)] + ['chin']
           + [f'left jawline {i}' for i in range(8, 0, -1)])
    brows = ([f'right eyebrow {i}' for i in range(1, 6)]
             + [f'left eyebrow {i}' for i in range(5, 0, -1)])
    nose = ([f'nose bridge {i}' for i in range(1, 5)]
            + ['right nostril outer', 'right nostril inner', 'nose base',
               'left nostril inner', 'left nostril outer'])
    eyes = []
    for side, order in (('right', (0, 1, 2, 3, 4, 5)), ('left', (3, 2, 1, 0, 5, 4))):
        words = ['eye outer corner', 'upper eyelid outer', 'upper eyelid inner',
                 'eye inner corner', 'lower eyelid inner', 'lower eyelid outer']
        eyes += [f'{side} {words[i]}' for i in order]
    lips = ['right mouth corner', 'right upper lip outer', 'right upper lip inner',
            'upper lip center', 'left upper lip inner', 'left upper lip outer',
            'left mouth corner', 'left lower lip outer', 'left lower lip inner',
            'lower lip center', 'right lower lip inner', 'right lower lip outer',
            'right inner mouth corner', 'right upper inner lip', 'upper inner lip center',
            'left upper inner lip', 'left inner mouth corner', 'left lower inner lip',
            'lower inner lip center', 'right lower inner lip']
    return jaw + brows + nose + eyes + lips


FACE68 = _face68()
_FACE = re.compile(r'face[-_](\d+)', re.IGNORECASE)


def keypoint_phrase(name: str) -> str:
    """A keypoint name as words (module docstring): ``'L_B_Paw'`` -> ``'left back
    paw'``, ``'hindleg_r_2'`` -> ``'right hind leg 2'``, ``'L1A'`` -> ``'left leg 1
    a'``, ``'root_of_tail'`` -> ``'root of tail'``, ``'face-36'`` -> ``'right eye
    outer corner'`` (:data:`FACE68`)."""
    face = _FACE.fullmatch(name)
    if face and int(face.group(1)) < len(FACE68):
        return FACE68[int(face.group(1))]
    side, rest = name_side(name)
    words = [ABBREVIATIONS.get(w, w) for w in rest]
    if side and rest and not any(len(w) > 1 and w.isalpha() for w in rest):
        words.insert(0, 'leg')
    return ' '.join(([side] if side else []) + words)


def object_phrase(name: str) -> str:
    """The object's name as words: ``'marker_creature'`` -> ``'marker creature'``."""
    return ' '.join(w.lower() for w in split_name(name))


def keypoint_names_from(names: Union[Sequence[str], dict]) -> List[str]:
    """Names given as a list, or as MMPose metainfo (``dict(from_file=...)`` as in a
    dataset's ``metainfo``, or a ``dataset_info`` dict), in keypoint order."""
    if isinstance(names, dict):
        from mmpose.datasets.datasets.utils import parse_pose_metainfo
        meta = parse_pose_metainfo(dict(names))
        return [meta['keypoint_id2name'][i] for i in range(meta['num_keypoints'])]
    return list(names)
