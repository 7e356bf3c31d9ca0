"""Teacher-student programs: a deployable student distilled from a privileged teacher with a belief encoder and
decoder (Miki et al. 2022; :mod:`~stridelab.distill.task`: the student's env and training configs), and behaviour
cloning of a student from recorded teacher rollouts (:mod:`~stridelab.distill.bc`, ETG-RL's proprioceptive
student). The models and the algorithm are :mod:`stridelab.learn.belief` and :mod:`stridelab.learn.distillation`;
the commands are ``stridelab distill`` and ``stridelab bc``. Nothing is imported here.
"""
