"""Hand-written programs for the checker tests: per language, A follows a set of constraints and B breaks them.

Both use the same names across languages (Shape, Circle, area, counter, ...), so most instructions read the same
in every language. The programs are only parsed, never compiled or run.
"""

PY_A = '''
from abc import ABC, abstractmethod
from enum import Enum
from typing import Final
import math

MAX_SIZE: Final = 100
counter = 0


class Color(Enum):
    RED = 1
    BLUE = 2


class Shape(ABC):
    @abstractmethod
    def area(self) -> float:
        ...


class Circle(Shape):
    def __init__(self, radius):
        self.radius = radius
        self.label = "circle"

    def area(self) -> float:
        return math.pi * self.radius ** 2

    def describe(self, color):
        match color:
            case Color.RED:
                return "red " + self.label
            case _:
                return self.label


def make_circle(radius):
    global counter
    counter += 1
    return Circle(radius)


def total_area(shapes):
    total = 0
    for shape in shapes:
        if shape.area() > 0:
            total += shape.area()
    return total


radius = 2.0
unit = Circle(radius)
shapes = [unit]
'''

PY_B = '''
import os


class circle_shape:
    def __init__(self, r, a, b, c):
        self.r = r

    def Area(self, scale, precision, rounding):
        return 3.14 * self.r * self.r


def MakeShape(r):
    n = 0
    while n < 3:
        n = n + 1
    return circle_shape(r, 0, 0, 0)


def helper_one():
    return os.getcwd()


def helper_two():
    return helper_one() + "..................................................................................."
'''

JAVA_A = '''
package geometry;

import java.util.ArrayList;
import java.util.List;

enum Color { RED, BLUE }

interface Shape {
    double area();
}

public class Circle implements Shape {
    private static final int MAX_SIZE = 100;
    private final double radius;
    private String label = "circle";

    public Circle(double radius) {
        this.radius = radius;
    }

    @Override
    public double area() {
        return Math.PI * radius * radius;
    }

    public String describe(Color color) {
        switch (color) {
            case RED:
                return "red " + label;
            default:
                return label;
        }
    }

    public static double totalArea(List<Shape> shapes) {
        int total = 0;
        for (Shape shape : shapes) {
            if (shape.area() > 0) {
                total += shape.area();
            }
        }
        return total;
    }

    public static void main(String[] args) {
        double radius = 2.0;
        Circle unit = new Circle(radius);
        List<Shape> shapes = new ArrayList<>();
        shapes.add(unit);
        System.out.println(totalArea(shapes));
    }
}
'''

JAVA_B = '''
import java.util.HashMap;
import java.util.stream.Collectors;

class circle_shape {
    static int counter = 0;
    double r;

    circle_shape(double r, int a, int b, int c) { this.r = r; }

    double Area(int scale, int precision, int rounding) { return 3.14 * r * r; }

    int MakeShape() {
        int n = 0;
        while (n < 3) { n = n + 1; }
        return n;
    }

    String helperOne() { return "........................................................................"; }
}
'''

CPP_A = '''
#include <cmath>
#include <iostream>
#include <vector>

namespace geometry {

const int MAX_SIZE = 100;
int counter = 0;

enum class Color { RED, BLUE };

class Shape {
public:
    virtual double area() const = 0;
};

class Circle : public Shape {
public:
    explicit Circle(double radius) : radius(radius), label("circle") {}
    double area() const override { return 3.14159 * radius * radius; }
    std::string describe(Color color) const {
        switch (color) {
        case Color::RED:
            return "red " + label;
        default:
            return label;
        }
    }

private:
    double radius;
    std::string label;
};

double totalArea(const std::vector<Shape*>& shapes) {
    int total = 0;
    for (const Shape* shape : shapes) {
        if (shape->area() > 0) {
            total += shape->area();
        }
    }
    return total;
}

}  // namespace geometry

int main() {
    double radius = 2.0;
    geometry::Circle unit(radius);
    std::vector<geometry::Shape*> shapes;
    shapes.push_back(&unit);
    std::cout << geometry::totalArea(shapes) << std::endl;
    return 0;
}
'''

CPP_B = '''
#include <map>

struct circle_shape {
    double r;
    circle_shape(double r, int a, int b, int c) : r(r) {}
    double Area(int scale, int precision, int rounding) { return 3.14 * r * r; }
};

int MakeShape() {
    int n = 0;
    while (n < 3) { n = n + 1; }
    goto done;
done:
    return n;
}

const char* helper_one() { return "..........................................................................."; }
'''

GO_A = '''
package geometry

import (
	"fmt"
	"math"
)

type Color int

const (
	Red Color = iota
	Blue
)

const MaxSize = 100

var counter = 0

type Shape interface {
	Area() float64
}

type Circle struct {
	radius float64
	label  string
}

func (c Circle) Area() float64 {
	return math.Pi * c.radius * c.radius
}

func (c Circle) Describe(color Color) string {
	switch color {
	case Red:
		return "red " + c.label
	default:
		return c.label
	}
}

func TotalArea(shapes []Shape) float64 {
	total := 0.0
	for _, shape := range shapes {
		if shape.Area() > 0 {
			total += shape.Area()
		}
	}
	counter++
	return total
}

func Main() {
	radius := 2.0
	unit := Circle{radius: radius}
	fmt.Println(TotalArea([]Shape{unit}))
}
'''

GO_B = '''
package main

import "os"

type circle_shape struct {
	r float64
}

func (c circle_shape) Perimeter(a, b, d, e int) float64 { return 2 * 3.14 * c.r }

func MakeShape() int {
	n := 0
	for n < 3 {
		n = n + 1
	}
	goto done
done:
	return n
}

func helper_one() string { return os.Getenv("HOME") + "............................................" }
'''

PROGRAMS = {
    ("python", "A"): PY_A, ("python", "B"): PY_B,
    ("java", "A"): JAVA_A, ("java", "B"): JAVA_B,
    ("cpp", "A"): CPP_A, ("cpp", "B"): CPP_B,
    ("go", "A"): GO_A, ("go", "B"): GO_B,
}
FENCE = {"python": "python", "java": "java", "cpp": "cpp", "go": "go"}


def response(language: str, which: str) -> str:
    """The program as a model would answer: prose and a fenced block (B adds a block in another language)."""
    code = PROGRAMS[(language, which)].strip("\n")
    text = f"Here is the solution.\n\n```{FENCE[language]}\n{code}\n```\n"
    if which == "B":
        text += "\nAnd a helper for the web page:\n\n```javascript\nconsole.log('hi');\n```\n"
    return text
