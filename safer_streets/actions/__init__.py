"""Partners' "you said, we did" actions: what a partner did about residents' reports."""
