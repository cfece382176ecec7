"""RoIAlign on channels-last CPU features as one ``embedding_bag`` (gn_det's fast path).

torchvision's CPU ``roi_align`` walks the RoIs on one thread and needs NCHW input, so channels-last
features are first copied. In channels-last memory a feature map is a table with one row of C
channels per pixel, and every RoIAlign output bin is a weighted sum of rows (4 bilinear corners for
each of its sampling points): exactly what ``F.embedding_bag(mode="sum", per_sample_weights=...)``
computes, vectorized over channels and parallel over bins, with a gradient for the features. The
sampling points and weights below follow torchvision's kernel expression for expression, so results
equal ``roi_align``'s up to float rounding of the final sums.
"""
import torch
import torch.nn.functional as F
from detectron2.layers import ROIAlign
from detectron2.modeling.poolers import (
    ROIPooler,
    assign_boxes_to_levels,
    convert_boxes_to_pooler_format,
)


def takes_channels_last(features):
    """True when ``features`` is a CPU tensor in channels-last memory (and not also contiguous)."""
    return (features.device.type == "cpu" and features.dim() == 4
            and features.is_contiguous(memory_format=torch.channels_last)
            and not features.is_contiguous())


def _axis_samples(start, bin_size, pooled, grid, size):
    """Corner indices and weights (0 where invalid) of the samples along one axis: (K, pooled,
    grid, 2) each."""
    bins = torch.arange(pooled, dtype=start.dtype, device=start.device)
    offsets = torch.arange(grid, dtype=start.dtype, device=start.device) + 0.5
    coordinate = ((start[:, None, None] + bins[None, :, None] * bin_size[:, None, None])
                  + offsets[None, None, :] * bin_size[:, None, None] / grid)
    valid = (coordinate >= -1.0) & (coordinate <= size)
    coordinate = coordinate.clamp(min=0)
    low = coordinate.long()
    at_edge = low >= size - 1
    low = torch.where(at_edge, size - 1, low)
    high = torch.where(at_edge, low, low + 1)
    coordinate = torch.where(at_edge, low.to(coordinate.dtype), coordinate)
    fraction = coordinate - low
    weights = torch.stack([1 - fraction, fraction], dim=-1) * valid[..., None]
    return torch.stack([low, high], dim=-1), weights


def _pool_group(table, image_offset, starts, bin_sizes, output_size, grid, height, width):
    """Pooled bins (K, oh, ow, C) of RoIs that share one sampling grid ``grid`` = (gh, gw)."""
    (start_y, start_x), (bin_h, bin_w), (oh, ow), (gh, gw) = starts, bin_sizes, output_size, grid
    if gh * gw == 0:  # an empty RoI (aligned=True): no samples, zeros as in torchvision
        return table.new_zeros((start_y.shape[0], oh, ow, table.shape[1]))
    rows, row_weights = _axis_samples(start_y, bin_h, oh, gh, height)
    cols, col_weights = _axis_samples(start_x, bin_w, ow, gw, width)
    rows = rows * width + image_offset[:, None, None, None]
    # (K, oh, ow, gh, 2, gw, 2): every corner of every sample of every bin.
    index = rows[:, :, None, :, :, None, None] + cols[:, None, :, None, None, :, :]
    weight = (row_weights[:, :, None, :, :, None, None] * col_weights[:, None, :, None, None, :, :]
              / max(gh * gw, 1))
    num_rois = index.shape[0]
    bags = num_rois * oh * ow
    pooled = F.embedding_bag(index.reshape(bags, -1), table, mode="sum",
                             per_sample_weights=weight.reshape(bags, -1).to(table.dtype))
    return pooled.reshape(num_rois, oh, ow, table.shape[1])


def roi_align_channels_last(features, rois, output_size, spatial_scale, sampling_ratio, aligned):
    """torchvision's ``roi_align`` for channels-last ``features``; returns (K, oh, ow, C).

    ``rois`` is (K, 5): batch index, x0, y0, x1, y1. ``sampling_ratio`` <= 0 samples each RoI
    ceil(size / output size) times per bin, as torchvision does.
    """
    n, channels, height, width = features.shape
    oh, ow = output_size
    table = features.permute(0, 2, 3, 1).reshape(n * height * width, channels)  # a view
    rois = rois.to(features.dtype)
    offset = 0.5 if aligned else 0.0
    x0, y0, x1, y1 = (rois[:, i] * spatial_scale - offset for i in range(1, 5))
    roi_w, roi_h = x1 - x0, y1 - y0
    if not aligned:
        roi_w, roi_h = roi_w.clamp(min=1.0), roi_h.clamp(min=1.0)
    bin_h, bin_w = roi_h / oh, roi_w / ow
    image_offset = rois[:, 0].long() * (height * width)
    out = features.new_zeros((rois.shape[0], oh, ow, channels))
    if sampling_ratio > 0:
        groups = {(sampling_ratio, sampling_ratio): None}
    else:
        grid_h, grid_w = torch.ceil(roi_h / oh).long(), torch.ceil(roi_w / ow).long()
        grids = torch.stack([grid_h, grid_w], dim=1)
        groups = {tuple(g.tolist()): (grids == g).all(dim=1).nonzero()[:, 0]
                  for g in grids.unique(dim=0)}
    for grid, members in groups.items():
        select = (lambda t: t) if members is None else (lambda t: t[members])
        pooled = _pool_group(table, select(image_offset), (select(y0), select(x0)),
                             (select(bin_h), select(bin_w)), (oh, ow), grid, height, width)
        if members is None:
            out = pooled
        else:
            out[members] = pooled
    return out


class FastROIAlign(ROIAlign):
    """detectron2's ROIAlign; channels-last CPU features go through
    :func:`roi_align_channels_last`."""

    def forward(self, input, rois):
        if not takes_channels_last(input) or rois.shape[0] == 0:
            return super().forward(input, rois)
        return roi_align_channels_last(input, rois, self.output_size, self.spatial_scale,
                                       self.sampling_ratio, self.aligned).permute(0, 3, 1, 2)


class FastROIPooler(ROIPooler):
    """detectron2's ROIPooler that, for channels-last CPU features, writes every level's bins into
    one channels-last output (detectron2's scatters them into a new NCHW tensor)."""

    def forward(self, x, box_lists):
        if (len(self.level_poolers) == 1 or not all(takes_channels_last(f) for f in x)
                or not all(isinstance(p, FastROIAlign) for p in self.level_poolers)
                or len(box_lists) != x[0].size(0)):
            return super().forward(x, box_lists)
        rois = convert_boxes_to_pooler_format(box_lists)
        levels = assign_boxes_to_levels(box_lists, self.min_level, self.max_level,
                                        self.canonical_box_size, self.canonical_level)
        oh, ow = self.output_size
        out = x[0].new_zeros((rois.shape[0], oh, ow, x[0].shape[1]))
        for level, (features, pooler) in enumerate(zip(x, self.level_poolers)):
            members = (levels == level).nonzero()[:, 0]
            if len(members):
                out[members] = roi_align_channels_last(
                    features, rois[members], pooler.output_size, pooler.spatial_scale,
                    pooler.sampling_ratio, pooler.aligned)
        return out.permute(0, 3, 1, 2)
