"""`vigil eval`: the real pipeline run over labelled footage, alerts compared with the truth."""
