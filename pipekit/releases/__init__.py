"""What runs where and what a promotion carries: the environment matrix (``pipekit status``), the
source commits and Jira issues between two environments (``pipekit diff``, promote's release
notes, dora's lead time per commit), read from the GitOps history and the service repositories."""
