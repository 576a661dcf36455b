module github.com/lanseedd/lanseedd

go 1.26.0
