"""A phone photo of an X-ray film (on a lightbox, against a window, on a desk, or on a screen) -> the film alone,
straightened and evenly lit, ready for the usual quality checks, the chest X-ray gate and the model.

Clinics whose X-ray unit prints film have no other way to get the image onto the device. The photo holds the
film somewhere in a scene, tilted and seen at an angle, under a warm or cold light that is brighter on one side.
The steps, and why:
1. Find the film: the largest four-cornered outline in the photo (edges first, then bright/dark regions).
   A film cut off by the photo's edge is refused, since the missing part may be a lung.
2. Straighten it (a perspective warp of the four corners onto a rectangle) and crop away the background and
   the film's own unexposed border, so the gate and the model see what they saw in training: the X-ray alone.
3. Refuse photos no one should read a verdict from: too dark, too blurred, or with glare over the lungs.
4. Take out the colour cast (grey-world balance) and even out a lighting gradient (a plane fitted to the log
   brightness): the model's equalisation is blind to an overall exposure, not to one side being brighter.

The result stays in colour, so a photo of a colour picture is still refused as a colour photograph, and
the gate still refuses a photo of anything that is not a chest X-ray. OpenCV does the image work; it comes
with the `photo` extra, and a device without it refuses photos with the command that adds it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from edge_app.intake.adjustments import FILM_PHOTO, with_adjustment
from edge_app.intake.preprocess import SOURCE_SIZE_KEY
from edge_app.reasons import (
    FILM_CUT_OFF,
    FILM_NOT_FOUND,
    PHOTO_GLARE,
    PHOTO_INSTALL_HINT,
    PHOTO_SUPPORT_MISSING,
    PHOTO_TOO_BLURRED,
    PHOTO_TOO_DARK,
    ImageRejected,
)

PHOTO_DECODE_SIZE = 720
"""A phone JPEG is decoded at no less than this many pixels a side (a 12-megapixel photo at a quarter of its
width, 1000x750): a film filling half of it still has more lines than the model's 224, at a sixteenth of the
cost of all 12 megapixels."""

_FIND_SIDE = 512
"""The film is looked for on a copy this size: outlines need no more, and it keeps finding fast."""
_OUT_SIDE = 768
"""The straightened film's longer side at most (the gate and the model see 64 and 224 px, the report a little more)."""
_MIN_FILM_SHARE = 0.12
"""A film covers at least this share of the photo; a smaller outline is a label, a window pane or a shadow."""
_MIN_INNER_SHARE = 0.15
"""A film inside a lightbox, window pane or screen covers at least this share of it."""
_MIN_EDGE_SUPPORT = 0.7
"""Share of each side of an outline along which the picture must step the same way to be taken for a film's
edge (a clip or a thumb may hide the rest)."""
_MIN_INNER_EDGE_SUPPORT = 0.5
"""The same for a film inside a lightbox or screen: its clear margin can be as bright as the panel along part of a
side; what is around it must then also be plain (`_plain_surround`), so a straight edge in the X-ray is not taken."""
_BAR_CUT = 15
"""Pixels (of the search copy): a window's bar or a thin frame meeting the film's outline, as edges this wide at
most once dilated, is cut off the filled outline, so it no longer joins the film to the photo's edge."""
_SIDE_OFFSET = 3
_MIN_STEP = 3.0
"""Pixels (of the search copy) either side of an outline compared, and the brightness step (0-255) that counts."""
_RUN_ON = (0.06, 0.3)
"""Past each corner, the stretch of a side's line (from, to, as shares of the side) where a film's edge has ended
(its rounded corner left out)."""
_MIN_RUN_ON = 0.6
_MIN_RUN_ON_LEAD = 0.3
_RUN_ON_ASIDE = (-18, -15, -12, -9, 9, 12, 15, 18)
"""A side's line runs on past a corner when at least this share of the points there step as the side does, and
this much more than on any line these many pixels beside it (a grain repeats its steps a stripe's width away)."""
_MAX_SURROUND_DETAIL = 0.5
"""Around a film found inside a lightbox or screen, fine detail is less than this share of the film's own."""
_PANEL_NOISE_TIMES = 4.0
"""Local spread (7 px) above this many times the panel's own (its border's median) is a picture's detail."""
_MAX_PICTURE_SHARE = 0.8
"""Detail filling more of a panel than this: the panel is the film itself (its clear margin is all around it)."""
_MIN_PICTURE_FILL = 0.85
"""Share of its rectangle the detail's outline fills: a film's picture is a rectangle, scattered detail is not."""
_MAX_CUT_FILM_SHARE = 0.8
"""A region running off the photo's edge smaller than this share of it may be a film cut off; a larger one is
the background around the film."""
_EDGE_MARGIN = 0.006
"""A corner closer than this share of the photo's size to its edge: the film may go on beyond the picture."""
_BORDER_TRIM = 0.03
"""Share of each side cut off the straightened film: the last of the frame and the film's clear edge."""
_TOO_DARK = 45.0
"""Median brightness (0-255) of the straightened film below which the lungs are lost in the dark."""
_MIN_SHARPNESS = 0.15
"""`sharpness` below which the photo is too blurred: sharp X-rays (external and full-size originals, with
sensor noise) score 0.21 and more; blurred by 2 px of a 256 px copy, half of them score under 0.157."""
_GLARE_LEVEL = 250
"""A pixel burnt white by a reflection: every channel at least this (the camera's sensor saturated)."""
_WASHED_LEVEL = 230
"""Near white: around a burnt core, the light a reflection adds leaves the film's greys no room (washed out)."""
_MAX_GLARE_SHARE = 0.05
"""Share of either lung field burnt or washed out by a reflection above which the photo is refused. On simulated
photos of training X-rays taken with and without the same reflection, smaller ones left the model's output where
it was; from about this size on they moved it (towards pneumonia). A twentieth of a lung is also about the
smallest patch a reader would not want hidden."""
_LUNG_FIELDS = ((0.15, 0.80, 0.12, 0.45), (0.15, 0.80, 0.55, 0.88))
"""Top, bottom, left, right of each lung on a straightened frontal chest film, as shares of its size. The middle
strip (spine, heart) is left out: a reflection there hides little lung; one over a lung's edge is still counted."""


@dataclass(frozen=True)
class FilmOutline:
    """The film's four corners in the photo's pixels (top-left, top-right, bottom-right, bottom-left)."""

    corners: np.ndarray

    def size(self) -> tuple[int, int]:
        """Width and height of the straightened film, from the lengths of its sides."""
        tl, tr, br, bl = self.corners
        width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
        height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
        return max(1, round(width)), max(1, round(height))


def _cv2():
    """OpenCV, or a refusal naming the extra that installs it."""
    try:
        import cv2
    except ImportError as exc:
        raise ImageRejected(
            PHOTO_SUPPORT_MISSING,
            f"Photos of films need the photo support, which is not installed. Install it with: {PHOTO_INSTALL_HINT}",
        ) from exc
    return cv2


def straighten_film(image: Image.Image) -> Image.Image:
    """The film in a phone photo, straightened, cropped, colour-balanced and evenly lit (RGB, marked as a film
    photo); ImageRejected when no whole film can be found or the photo is too dark, blurred or glared."""
    cv2 = _cv2()
    rgb = _rgb_array(image)
    outline = find_film(rgb)
    film = _warp(cv2, rgb, outline)
    _check_usable(cv2, film)
    balanced = _even_lighting(cv2, _remove_colour_cast(cv2, film))
    result = Image.fromarray(balanced, mode="RGB")
    result.info[SOURCE_SIZE_KEY] = result.size
    return with_adjustment(result, FILM_PHOTO)


def _rgb_array(image: Image.Image) -> np.ndarray:
    if image.mode == "RGB":
        return np.asarray(image)
    if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        pixels = np.asarray(image, dtype=np.float32)
        low, high = float(pixels.min()), float(pixels.max())
        scaled = ((pixels - low) * (255.0 / max(high - low, 1e-6))).astype(np.uint8)
        return np.repeat(scaled[..., None], 3, axis=2)
    return np.asarray(image.convert("RGB"))


def find_film(rgb: np.ndarray) -> FilmOutline:
    """The film's outline in an RGB photo; ImageRejected when none is found or it runs off the photo.

    The largest four-cornered outline clear of the photo's edges is often a lightbox, a window pane or a
    monitor with the film inside it, so the search is repeated inside it, twice at most."""
    cv2 = _cv2()
    height, width = rgb.shape[:2]
    scale = _FIND_SIDE / max(height, width)
    step = max(1, int(1 / scale) // 2)  # every step-th pixel first: an area resize of millions of pixels is slow
    small = cv2.resize(
        rgb[::step, ::step], (max(1, round(width * scale)), max(1, round(height * scale))), interpolation=cv2.INTER_AREA
    )
    planes = cv2.GaussianBlur(_planes(cv2, small), (5, 5), 0)
    quad, cut_off = _largest_quad(cv2, planes, _MIN_FILM_SHARE, whole_photo=True)
    if quad is None:
        raise ImageRejected(
            FILM_CUT_OFF if cut_off else FILM_NOT_FOUND,
            (
                "The film runs off the edge of the photo, or a straight edge behind it (a window's frame, a stripe) "
                "lines up with its edge, so part of the chest may be missing. "
                if cut_off
                else "No whole X-ray film was found in the photo. "
            )
            + "Take the photo again: hold the phone straight over the film, with the whole film in the picture, "
            "away from lamps.",
        )
    for _ in range(2):
        inner = _inner_quad(cv2, planes, quad)
        if inner is None:
            break
        quad = inner
    return FilmOutline(_order_corners(quad) / scale)


def _planes(cv2, rgb: np.ndarray) -> np.ndarray:
    """Brightness, and a blue-against-red plane: a grey film's clear margin can be as bright as the sky behind
    it, but not of the same colour."""
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    chroma = cv2.convertScaleAbs(rgb[..., 2].astype(np.int16) - rgb[..., 0].astype(np.int16), alpha=2.0, beta=128)
    return np.dstack([gray, chroma])


def _inner_quad(cv2, planes: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """A film inside the outline `quad` (in `planes`' pixels), in the same pixels; None when there is none."""
    corners = _order_corners(quad)
    width, height = FilmOutline(corners).size()
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(corners, target)
    flat = cv2.warpPerspective(planes, matrix, (width, height), flags=cv2.INTER_LINEAR)
    dx, dy = round(_BORDER_TRIM * width), round(_BORDER_TRIM * height)
    inside = flat[dy : height - dy, dx : width - dx]
    inner, _ = _largest_quad(cv2, inside, _MIN_INNER_SHARE, _MIN_INNER_EDGE_SUPPORT)
    if inner is None or not _plain_surround(cv2, inside[..., 0], inner):
        inner = _picture_extent(cv2, inside[..., 0])
        if inner is None:
            return None
    shifted = (inner + np.array([dx, dy], np.float32)).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(shifted, np.linalg.inv(matrix)).reshape(4, 2).astype(np.float32)


def _picture_extent(cv2, gray: np.ndarray) -> np.ndarray | None:
    """The rectangle holding all the fine detail inside a plain panel, when it is a film's picture on it (in
    `gray`'s pixels); None when the detail fills the panel (it is the film already) or makes no rectangle.

    A film's clear margin can match a lightbox's panel along a whole side, leaving no step to follow; the
    X-ray's own detail still stands out from the plain panel. The panel has been straightened, so the film on it
    is a rectangle; all the detail is taken (a flat mediastinum must not split the lungs), except the rim of a
    reflection burnt white, which is no picture."""
    height, width = gray.shape
    values = gray.astype(np.float32)
    mean = cv2.blur(values, (7, 7))
    spread = np.sqrt(np.maximum(cv2.blur(values * values, (7, 7)) - mean * mean, 0))
    band = max(2, round(0.04 * min(height, width)))
    panel = np.concatenate([spread[:band], spread[-band:], spread[:, :band].T, spread[:, -band:].T], axis=None)
    step = max(3, band)
    glare = cv2.dilate((values >= _GLARE_LEVEL).astype(np.uint8), np.ones((3 * step, 3 * step), np.uint8))
    detail = ((spread > max(_PANEL_NOISE_TIMES * float(np.median(panel)), 1.5)) & (glare == 0)).astype(np.uint8)
    detail = cv2.morphologyEx(detail, cv2.MORPH_CLOSE, np.ones((step, step), np.uint8))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(detail)
    kept = [index for index in range(1, count) if stats[index, cv2.CC_STAT_AREA] >= 0.002 * height * width]
    if not kept:
        return None
    hull = cv2.convexHull(np.column_stack(np.nonzero(np.isin(labels, kept))[::-1]).astype(np.float32))
    rect = cv2.boxPoints(cv2.minAreaRect(hull)).astype(np.float32)
    area = cv2.contourArea(rect)
    if not _MIN_INNER_SHARE <= area / (height * width) <= _MAX_PICTURE_SHARE:
        return None
    if cv2.contourArea(hull) < _MIN_PICTURE_FILL * area or not _plain_surround(cv2, gray, rect):
        return None
    return rect


def _outline_masks(cv2, planes: np.ndarray, whole_photo: bool) -> list[np.ndarray]:
    """Binary pictures whose outlines may be the film: closed edges, and regions brighter and darker than each
    of several levels (a film on a lightbox is darker than its surround, one on a dark desk or a screen in its
    bezel lighter, and its clear margin may be as bright as the window behind it). The regions are opened with a
    square wider than a window's bar: a film joined by the bars to the photo's edge would look cut off. In the
    whole photo, for the same reason, the closed edges are also taken filled and opened (inside a lightbox or a
    screen nothing reaches the photo's edge, and a filled picture's outline would leave its clear margin out)."""
    gray, chroma = planes[..., 0], planes[..., 1]
    kernel, wide = np.ones((5, 5), np.uint8), np.ones((11, 11), np.uint8)
    edges = cv2.dilate(_edges(cv2, gray), np.ones((3, 3), np.uint8), iterations=2)
    masks = [edges]
    if whole_photo:
        filled = cv2.morphologyEx(_filled(cv2, edges), cv2.MORPH_OPEN, np.ones((_BAR_CUT, _BAR_CUT), np.uint8))
        masks.append(cv2.erode(filled, kernel))  # eroded back onto the edges it was dilated from
    levels = [(gray, level) for level in np.percentile(gray, (15, 30, 45, 60, 75, 90))]
    for plane, level in [*levels, (chroma, cv2.threshold(chroma, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0])]:
        bright = (plane > level).astype(np.uint8) * 255
        for mask in (bright, 255 - bright):
            masks.append(cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_OPEN, wide), cv2.MORPH_CLOSE, kernel))
    return masks


def _filled(cv2, mask: np.ndarray) -> np.ndarray:
    """The mask with every hole filled (what no path from the picture's edge reaches): a film's closed outline
    becomes the solid film, whatever edges its picture has inside."""
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    outside = padded.copy()
    cv2.floodFill(outside, None, (0, 0), 255)
    return mask | (255 - outside[1:-1, 1:-1])


def _edges(cv2, gray: np.ndarray) -> np.ndarray:
    return cv2.Canny(gray, 15, 45)


def _largest_quad(
    cv2, planes: np.ndarray, least_share: float, least_support: float = _MIN_EDGE_SUPPORT, whole_photo: bool = False
) -> tuple[np.ndarray | None, bool]:
    """The largest convex four-cornered outline covering at least `least_share` of the picture, clear of its
    edges and following straight edges that end at its corners, from any mask; and whether a larger one was found
    that touches an edge or whose side's line runs on past a corner (a film cut off, or part of one)."""
    shape = planes.shape[:2]
    margin = _EDGE_MARGIN * max(shape)
    best, best_area, cut_off = None, least_share * shape[0] * shape[1], False
    for mask in _outline_masks(cv2, planes, whole_photo):
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            hull = cv2.convexHull(contour)
            area = cv2.contourArea(hull)
            if area <= best_area or area > 0.98 * shape[0] * shape[1]:
                continue
            low, high = hull.reshape(-1, 2).min(axis=0), hull.reshape(-1, 2).max(axis=0)
            if (low < margin).any() or (high > np.array(shape[::-1]) - 1 - margin).any():
                # a solid film-sized region running off the edge (not the background all around the film)
                cut_off |= cv2.contourArea(contour) >= 0.9 * area and area < _MAX_CUT_FILM_SHARE * shape[0] * shape[1]
                continue
            quad = _as_quad(cv2, hull)
            if quad is None or cv2.contourArea(quad) < 0.9 * area or _edge_support(quad, planes) < least_support:
                continue
            if _runs_on(quad, planes):  # part of the film, or the film with background: never the film alone
                cut_off = True
                continue
            best, best_area = quad, area
    return best, cut_off and best is None


def _plain_surround(cv2, gray: np.ndarray, inner: np.ndarray) -> bool:
    """Whether what lies around an inner outline is plain (a lightbox's panel, a window, a screen's bezel, a film's
    margin: smooth, whatever its brightness) next to the detail inside it: a straight edge inside the X-ray itself
    (the spine's side) has X-ray on both sides of it, and following it would cut a lung off."""
    mask = np.zeros(gray.shape, np.uint8)
    cv2.fillConvexPoly(mask, np.round(inner).astype(np.int32), 255)
    mask = cv2.erode(mask, np.ones((9, 9), np.uint8))
    around = cv2.erode(255 - mask, np.ones((17, 17), np.uint8))  # the steps at the outline itself left out
    detail = np.abs(cv2.Laplacian(gray.astype(np.float32), cv2.CV_32F, ksize=3))
    if not around.any() or not mask.any():
        return True
    return float(detail[around > 0].mean()) < _MAX_SURROUND_DETAIL * float(detail[mask > 0].mean())


def _edge_support(quad: np.ndarray, planes: np.ndarray) -> float:
    """How surely each side of the outline is a film's edge, for its least sure side: the share of points along
    the side where the picture is brighter on the same side of it, and not by a little (a film is lighter or
    darker than what is around it all along). A line across the X-ray itself (an outline bridging the lungs or
    the body) has brighter and darker on either side by turns."""
    return min(float(_step_shares(_along(start, end), end - start, planes).max()) for start, end in _sides(quad))


def _runs_on(quad: np.ndarray, planes: np.ndarray) -> bool:
    """Whether the line of a side goes on past both of its corners: there, the picture steps the same way as along
    the side, on the line itself and not as often a little beside it.

    A film's edges end at its corners. A straight edge running on both ways is something else: a window's frame
    seen through the film, a stripe of the desk; an outline along it holds part of the film, or the film and some
    background. A wood grain steps beside the line as often as on it; past one corner only, the line may be a
    window's bar that the film's edge happens to meet."""
    beyond = np.linspace(*_RUN_ON, 16)[:, None]
    for start, end in _sides(quad):
        direction = end - start
        own = np.unravel_index(np.argmax(_step_shares(_along(start, end), direction, planes)), (2, planes.shape[2]))
        normal = np.array([-direction[1], direction[0]]) / max(float(np.linalg.norm(direction)), 1e-6)
        if all(
            _line_runs_on(points, direction, normal, own, planes)
            for points in (end + beyond * direction, start - beyond * direction)
        ):
            return True
    return False


def _line_runs_on(
    points: np.ndarray, direction: np.ndarray, normal: np.ndarray, own: tuple, planes: np.ndarray
) -> bool:
    on = _step_shares(points, direction, planes)[own]
    if on < _MIN_RUN_ON:
        return False
    return (
        on - max(_step_shares(points + shift * normal, direction, planes)[own] for shift in _RUN_ON_ASIDE)
        >= _MIN_RUN_ON_LEAD
    )


def _sides(quad: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    corners = _order_corners(quad)
    return list(zip(corners, np.roll(corners, -1, axis=0), strict=True))


def _along(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    return start + np.linspace(0.08, 0.92, 48)[:, None] * (end - start)


def _step_shares(points: np.ndarray, direction: np.ndarray, planes: np.ndarray) -> np.ndarray:
    """For each way (brighter on the left of the line running along `direction`, or on its right) and each plane,
    the share of the points on the line where the picture steps that way by more than a little. Points too near
    the picture's edge to look either side do not count; with fewer than half of them left there is no line."""
    height, width = planes.shape[:2]
    normal = np.array([-direction[1], direction[0]]) / max(float(np.linalg.norm(direction)), 1e-6)
    sides, inside = [], np.ones(len(points), bool)
    for offset in (_SIDE_OFFSET, -_SIDE_OFFSET):
        x = np.round(points[:, 0] + offset * normal[0]).astype(int)
        y = np.round(points[:, 1] + offset * normal[1]).astype(int)
        inside &= (x >= 0) & (x < width) & (y >= 0) & (y < height)
        sides.append(planes[np.clip(y, 0, height - 1), np.clip(x, 0, width - 1)].astype(np.float32))
    if inside.sum() < len(points) / 2:
        return np.zeros((2, planes.shape[2]))
    step = (sides[0] - sides[1])[inside]  # per point, per plane
    return np.stack([(step > _MIN_STEP).mean(axis=0), (step < -_MIN_STEP).mean(axis=0)])


def _as_quad(cv2, hull: np.ndarray) -> np.ndarray | None:
    """Four corners approximating a convex outline, or None when it is no quadrilateral (a blob, a circle)."""
    perimeter = cv2.arcLength(hull, True)
    for tolerance in (0.02, 0.03, 0.045):
        approx = cv2.approxPolyDP(hull, tolerance * perimeter, True)
        if len(approx) == 4:
            return approx.reshape(4, 2).astype(np.float32)
    return None


def _order_corners(points: np.ndarray) -> np.ndarray:
    """Top-left, top-right, bottom-right, bottom-left: the film is read the way the photo was taken."""
    total, diff = points.sum(axis=1), points[:, 1] - points[:, 0]
    return np.array(
        [points[np.argmin(total)], points[np.argmin(diff)], points[np.argmax(total)], points[np.argmax(diff)]],
        dtype=np.float32,
    )


def _warp(cv2, rgb: np.ndarray, outline: FilmOutline) -> np.ndarray:
    """The film straightened to a rectangle, its edge trimmed away."""
    width, height = outline.size()
    shrink = min(1.0, _OUT_SIDE / max(width, height))
    width, height = max(8, round(width * shrink)), max(8, round(height * shrink))
    target = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(outline.corners, target)
    warped = cv2.warpPerspective(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    dx, dy = round(_BORDER_TRIM * width), round(_BORDER_TRIM * height)
    return _trim_plain_border(cv2, warped[dy : height - dy, dx : width - dx])


def _trim_plain_border(cv2, film: np.ndarray) -> np.ndarray:
    """Rows and columns at the film's edge with no picture in them (the unexposed margin, a label strip) cut off,
    never more than a tenth of a side each."""
    gray = cv2.cvtColor(film, cv2.COLOR_RGB2GRAY).astype(np.float32)
    spread = float(np.percentile(gray[::4, ::4], 95) - np.percentile(gray[::4, ::4], 5)) + 1e-6

    def plain(lines: np.ndarray) -> int:
        limit = len(lines) // 10
        count = 0
        while count < limit and lines[count].std() < 0.04 * spread:
            count += 1
        return count

    top, bottom = plain(gray), plain(gray[::-1])
    left, right = plain(gray.T), plain(gray.T[::-1])
    return film[top : film.shape[0] - bottom, left : film.shape[1] - right]


def _check_usable(cv2, film: np.ndarray) -> None:
    """Refuse a straightened film that is too dark, too blurred or glared over the lungs."""
    gray = cv2.cvtColor(film, cv2.COLOR_RGB2GRAY)
    again = "Take the photo again: hold the phone straight over the film, with the whole film in the picture, "
    if float(np.median(gray[::4, ::4])) < _TOO_DARK:
        raise ImageRejected(
            PHOTO_TOO_DARK, "The photo is too dark to see the lungs. " + again + "with the film lit from behind."
        )
    if glare_share(cv2, film) > _MAX_GLARE_SHARE:
        raise ImageRejected(
            PHOTO_GLARE, "A reflection (glare) covers part of the lungs. " + again + "away from lamps and windows."
        )
    if sharpness(cv2, gray) < _MIN_SHARPNESS:
        raise ImageRejected(
            PHOTO_TOO_BLURRED, "The photo is too blurred to read. " + again + "keep it still and let it focus."
        )


def glare_share(cv2, film: np.ndarray) -> float:
    """The largest share of a lung field that a reflection burns white or washes out (RGB film, straightened).

    A reflection is near-white ground joined to pixels burnt white in every channel: its soft rim hides the lung
    as surely as its core. Near-white with nothing burnt in it (a bone, a dense lung on a bright lightbox) is
    the film's own picture and is not counted."""
    darkest = cv2.blur(film.min(axis=2), (5, 5))  # the grain of the film and the sensor's noise smoothed
    count, labels = cv2.connectedComponents((darkest >= _WASHED_LEVEL).astype(np.uint8))
    burnt = np.unique(labels[darkest >= _GLARE_LEVEL])
    if count < 2 or not burnt.size:
        return 0.0
    glare = np.isin(labels, burnt[burnt > 0])
    height, width = darkest.shape
    return max(
        float(glare[round(top * height) : round(bottom * height), round(left * width) : round(right * width)].mean())
        for top, bottom, left, right in _LUNG_FIELDS
    )


def sharpness(cv2, gray: np.ndarray) -> float:
    """Fine detail at about the model's scale, independent of contrast: what a 1 px blur of a 256 px copy takes
    away, over what a 4 px blur takes away."""
    small = cv2.resize(gray, (256, 256), interpolation=cv2.INTER_AREA).astype(np.float32)
    fine = np.abs(small - cv2.GaussianBlur(small, (0, 0), 1.0)).mean()
    coarse = np.abs(small - cv2.GaussianBlur(small, (0, 0), 4.0)).mean()
    return float(fine / max(coarse, 1e-6))


def _remove_colour_cast(cv2, film: np.ndarray) -> np.ndarray:
    """Grey-world balance: each channel scaled so the channels' means agree (a film is grey)."""
    means = np.array(cv2.mean(film)[:3]) + 1e-3
    return film.astype(np.float32) * (means.mean() / means).astype(np.float32)


def _even_lighting(cv2, film: np.ndarray) -> np.ndarray:
    """A lighting gradient (one side of the lightbox brighter) divided out: a plane fitted to log brightness on a
    coarse grid, its slope removed and its mean kept."""
    height, width = film.shape[:2]
    grid = np.log1p(cv2.resize(film, (48, 48), interpolation=cv2.INTER_AREA).mean(axis=2))
    ys, xs = np.mgrid[0:48, 0:48] / 47.0 - 0.5
    design = np.stack([np.ones(grid.size), xs.ravel(), ys.ravel()], axis=1)
    _, slope_x, slope_y = np.linalg.lstsq(design, grid.ravel(), rcond=None)[0]
    rows = (np.arange(height, dtype=np.float32) / max(height - 1, 1) - 0.5)[:, None]
    cols = (np.arange(width, dtype=np.float32) / max(width - 1, 1) - 0.5)[None, :]
    gain = np.exp(-(np.float32(slope_x) * cols + np.float32(slope_y) * rows))
    return cv2.convertScaleAbs(film * gain[..., None])
