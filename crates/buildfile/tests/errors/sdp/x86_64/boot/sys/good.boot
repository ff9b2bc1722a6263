[
default_image=4m
attr="?-bigendian"
]
