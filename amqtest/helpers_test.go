package amqtest_test

import (
	"errors"

	amqp "github.com/Azure/go-amqp"
)

func asConnErr(err error, target **amqp.ConnError) bool { return errors.As(err, target) }
func asAMQPErr(err error, target **amqp.Error) bool     { return errors.As(err, target) }
