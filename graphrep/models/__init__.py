"""MVGRL models: node level (:class:`MVGRL`) and graph level (:class:`MVGRLGraph`)."""
from graphrep.models.mvgrl import MVGRL
from graphrep.models.mvgrl_graph import MVGRLGraph

__all__ = ["MVGRL", "MVGRLGraph"]
