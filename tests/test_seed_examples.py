"""The Prefect 1 README and Core docs examples, run as written with ``prefect`` renamed ``perfect_nb``."""

from __future__ import annotations

import base64
import contextlib
import http.server
import json
import logging
import threading
import urllib.request
from datetime import timedelta

import pytest

import perfect_nb
from perfect_nb import Flow, Parameter, Task, task
from perfect_nb.engine.state import Success


# --- "Welcome to Workflows" ----------------------------------------------------------
def test_readme_hello_world(caplog):
    @task(log_stdout=True)
    def say_hello(name):
        print("Hello, {}!".format(name))

    with Flow("My First Flow") as flow:
        name = Parameter("name")
        say_hello(name)

    with caplog.at_level(logging.INFO):
        assert flow.run(name="world").is_successful()
        assert flow.run(name="Marvin").is_successful()
    printed = [r.getMessage() for r in caplog.records if r.name == "perfect_nb.say_hello"]
    assert printed == ["Hello, world!", "Hello, Marvin!"]


# --- tasks ----------------------------------------------------------------------------
def test_plus_one_task():
    @task
    def plus_one(x):
        return x + 1

    assert plus_one.run(1) == 2
    with Flow("plus one") as flow:
        two = plus_one(1)
    assert flow.run().result[two].result == 2


@contextlib.contextmanager
def http_server():
    """A GET server on 127.0.0.1 that answers with JSON describing the request."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"path": self.path, "authorization": self.headers.get("Authorization")}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


class HTTPGetTask(Task):
    def __init__(self, username, password, **kwargs):
        self.username = username
        self.password = password
        super().__init__(**kwargs)

    def run(self, url):
        request = urllib.request.Request(url)
        token = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def test_http_get_task_subclass():
    get = HTTPGetTask(username="marvin", password="paranoid", name="get")
    expected_auth = "Basic " + base64.b64encode(b"marvin:paranoid").decode()
    with http_server() as base:
        assert get.run(base + "/direct") == {"path": "/direct", "authorization": expected_auth}
        with Flow("http") as flow:
            url = Parameter("url")
            response = get(url)
        state = flow.run(url=base + "/in-a-flow")
    assert state.result[response].result == {"path": "/in-a-flow", "authorization": expected_auth}
    assert response is not get and response.username == "marvin"


def test_task_with_retries():
    t = Task(max_retries=3, retry_delay=timedelta(minutes=10))
    assert (t.max_retries, t.retry_delay) == (3, timedelta(minutes=10))


# --- the functional API ------------------------------------------------------------------
def test_functional_flow():
    import random

    @task
    def random_number():
        return random.randint(0, 100)

    class PlusOneTask(Task):
        def run(self, x):
            return x + 1

    with Flow("My Functional Flow") as flow:
        r = random_number()
        y = PlusOneTask()(r)

    assert flow.upstream_tasks(y) == {r}
    state = flow.run()
    number = state.result[r].result
    assert 0 <= number <= 100
    assert state.result[y].result == number + 1


# --- the imperative API ------------------------------------------------------------------
def test_imperative_flow():
    @task
    def add(x, y):
        return x + y

    @task
    def say_hello(person):
        return "Hello, {}!".format(person)

    flow = Flow("My imperative flow!")

    # define some new tasks
    name = Parameter("name")
    second_add = add.copy()

    # add our tasks to the flow
    flow.add_task(add)
    flow.add_task(second_add)
    flow.add_task(say_hello)

    # create non-data dependencies so that `say_hello` waits for `second_add` to finish.
    say_hello.set_upstream(second_add, flow=flow)

    # create data bindings
    add.bind(x=1, y=2, flow=flow)
    second_add.bind(x=add, y=100, flow=flow)
    say_hello.bind(person=name, flow=flow)

    state = flow.run(name="Marvin")
    assert state.is_successful()
    assert state.result[add].result == 3
    assert state.result[second_add].result == 103
    assert state.result[say_hello].result == "Hello, Marvin!"
    order = flow.sorted_tasks()
    assert order.index(add) < order.index(second_add) < order.index(say_hello)


# --- parameters --------------------------------------------------------------------------------
def test_parameterized_flow(capsys):
    @task
    def print_plus_one(x):
        print(x + 1)

    with Flow("Parameterized Flow") as flow:
        x = Parameter("x")
        print_plus_one(x=x)

    flow.run(parameters=dict(x=1))  # prints 2
    flow.run(parameters=dict(x=100))  # prints 101
    flow.run(x=2)  # prints 3
    assert capsys.readouterr().out.split() == ["2", "101", "3"]


def test_the_module_docstring_example():
    from perfect_nb import Flow, Parameter, task

    @task
    def plus_one(x):
        return x + 1

    with Flow("quick") as flow:
        n = Parameter("n", default=1)
        result = plus_one(n)
    assert flow.run(n=41).result[result].result == 42
    assert isinstance(flow.run().result[result], Success)
    assert perfect_nb.Flow is Flow
