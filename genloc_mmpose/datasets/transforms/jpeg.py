"""What a JPEG file's bytes say before it is decoded: whether it ends early, and the
size OpenCV decodes it to (from the markers up to the frame header)."""
from typing import Optional

EXIF_ORIENTATION = 0x0112
# start-of-frame markers: C0-CF but DHT (C4), JPG (C8) and DAC (CC)
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


def truncated(data: bytes) -> bool:
    """Whether ``data`` is a JPEG without its end-of-image marker (a partial
    download or copy). OpenCV decodes such files without an error, filling the
    missing rows with grey. The marker may be followed by a few padding bytes; it
    cannot occur inside the compressed data (0xFF is stuffed there)."""
    return data[:2] == b'\xff\xd8' and b'\xff\xd9' not in data[-1024:]


def exif_orientation(tiff: bytes) -> Optional[int]:
    """The orientation tag of an EXIF block's first IFD (1 if absent), None if the
    block cannot be read."""
    order = {b'II': 'little', b'MM': 'big'}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return None
    ifd = int.from_bytes(tiff[4:8], order)
    if ifd + 2 > len(tiff):
        return None
    count = int.from_bytes(tiff[ifd:ifd + 2], order)
    for entry in range(ifd + 2, min(ifd + 2 + 12 * count, len(tiff) - 11), 12):
        if int.from_bytes(tiff[entry:entry + 2], order) == EXIF_ORIENTATION:
            return int.from_bytes(tiff[entry + 8:entry + 10], order)
    return 1


def jpeg_size(data: bytes) -> Optional[tuple]:
    """(height, width) from the header of a JPEG that OpenCV decodes to exactly
    that size at every DCT scale: 8-bit, 3 components (YCbCr) or 1 (grey), no EXIF
    rotation. None for anything else (PNG, CMYK, a rotated photo, a header that
    does not parse): those are decoded in full, as before. Reads the markers up to
    the frame header (tens of microseconds)."""
    if data[:2] != b'\xff\xd8':
        return None
    pos, orientation = 2, 1
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # no length
            pos += 2
            continue
        if marker in (0xD9, 0xDA):  # end of image / start of scan before a frame
            return None
        length = int.from_bytes(data[pos + 2:pos + 4], 'big')
        segment = data[pos + 4:pos + 2 + length]
        if marker == 0xE1 and segment[:6] == b'Exif\x00\x00':
            orientation = exif_orientation(segment[6:])
        elif marker in SOF_MARKERS:
            if len(segment) < 6 or segment[0] != 8 or segment[5] not in (1, 3):
                return None
            height = int.from_bytes(segment[1:3], 'big')
            width = int.from_bytes(segment[3:5], 'big')
            if orientation != 1 or not height or not width:
                return None
            return height, width
        pos += 2 + length
    return None
