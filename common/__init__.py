"""What the pipeline and the trainer share, with no Beam import.

`idx` reads and writes the IDX format over `tf.io.gfile`; `cli` runs entry
points (logging, exit status, one-line user errors); `errors` holds the base
class of every failure a user can fix from its message.
"""
