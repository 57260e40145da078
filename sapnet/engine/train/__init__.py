"""Training: the trainer (:mod:`.trainer`), its settings in one description with schedules in
steps (:mod:`.config`), and the compiled training step (:mod:`.compile`)."""
