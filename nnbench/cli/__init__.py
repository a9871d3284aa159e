"""The command line's own parts: the line each job prints (``console``) and any error before or
between jobs as one line naming what is wrong and what is allowed (``one_line``)."""
