"""Matplotlib figures drawn from results computed elsewhere: no module here computes a metric or
writes a file. Each function returns a Figure; `classlens.atomic.save_figure` writes and closes
it. One module per subject: training, evaluation, images (grids, class counts), explain, augment."""
