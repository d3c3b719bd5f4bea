module example.com/gorustls-consumer

go 1.26

require github.com/gorustls/gorustls v0.0.0

replace github.com/gorustls/gorustls => ../..
