"""The work behind the commands: inference (:mod:`.infer`), training (:mod:`.train`) and
evaluation (:mod:`.evaluate`); see docs/ARCHITECTURE.md."""
