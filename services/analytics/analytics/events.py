"""What analytics emits: nothing yet (`milestone.reached` will be built here).

Analytics listens to the whole stream; its handlers live with the rules in
`service.py` and are listed in `main.py`.
"""
