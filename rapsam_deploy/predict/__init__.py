"""Pre- and post-processing shared by every backend, and the panoptic, prompt and video
predictors over a backend; result files and overlays."""
