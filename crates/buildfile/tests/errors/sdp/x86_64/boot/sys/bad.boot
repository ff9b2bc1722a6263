[
len=zz
]
