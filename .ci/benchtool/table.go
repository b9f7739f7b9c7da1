package main

import "errors"

func tableMain(args []string) error { return errors.New("todo") }
func checkMain(args []string) error { return errors.New("todo") }
