namespace Jx.Tests;

// ----- [Pytree] types used below; the Jx.PytreeGenerator source generator implements IPytreeNode for them -----

[Pytree] public partial record PtLinear(Tensor W, Tensor B);

[Pytree] public partial record PtMlp(PtLinear L1, PtLinear L2);

/// <summary>Positional parameters come first, then body properties in declaration order; computed (get-only)
/// properties are not children.</summary>
[Pytree]
public partial record PtOrdered(Tensor C, Tensor A)
{
    public required Tensor B { get; init; }
    public Tensor Sum => C + A;
}

[Pytree] public partial record PtContainers(Tensor[] Layers, List<Tensor> Extras, Dictionary<string, Tensor> Named, (Tensor, Tensor) Pair, Tensor? Maybe);

[Pytree] public partial record PtDense(Tensor W, [Static] string Activation);

[Pytree]
public partial record PtStatics([property: Static] int Features, Tensor K)
{
    [Static] public int[] Strides { get; init; } = [1, 1];
    [Static] public readonly bool UseBias = true;
}

[Pytree] public partial record PtPair<T>(T First, T Second);

[Pytree] public partial record struct PtPoint(Tensor X, Tensor Y);

[Pytree] public partial record PtScaled(Tensor X, float Scale);

[Pytree] public partial record PtBase(Tensor A);

[Pytree] public sealed partial record PtDerived(Tensor A, Tensor B) : PtBase(A);

[Pytree] public partial record PtBag(object? Payload);

/// <summary>A non-record class: UnflattenChildren copies it with MemberwiseClone and assigns the children.</summary>
[Pytree]
public partial class PtHolder
{
    public Tensor Value { get; set; } = Np.Zeros([1]);
    public Tensor Other { get; private set; } = Np.Zeros([1]);
    [Static] public string Tag { get; set; } = "";
    public void SetOther(Tensor t) => Other = t;
}

public partial class PytreeTests
{
    /// <summary>Nested in a partial class: the generated code is nested too.</summary>
    [Pytree] internal partial record Nested(Tensor Value, [Static] int Level);

    private static Tensor V(params float[] xs) => Np.Array(xs);

    /// <summary>The message without the user location that JxException appends ("\n  at Caller in File.cs:12").</summary>
    private static string Msg(JxException e) =>
        e.UserLocation is null ? e.Message : e.Message[..^("\n  at " + e.UserLocation).Length];

    // ----- [Pytree] records -----

    [Fact]
    public void RecordFlattensToItsPropertiesInOrder()
    {
        var w = V(1, 2);
        var b = V(3);
        var (leaves, def) = Tree.Flatten(new PtLinear(w, b));
        Assert.Equal(2, leaves.Count);
        Assert.Same(w, leaves[0]);
        Assert.Same(b, leaves[1]);
        Assert.Equal(2, def.NumLeaves);
        Assert.Equal("PyTreeDef(PtLinear(W=*, B=*))", def.ToString());
    }

    [Fact]
    public void GeneratedNodeExposesChildrenNamesAndAux()
    {
        IPytreeNode node = new PtDense(V(1), "relu");
        Assert.Equal(["W"], node.ChildNames());
        Assert.Single(node.FlattenChildren());
        Assert.Equal(["relu"], node.AuxData());

        IPytreeNode statics = new PtStatics(4, V(1));
        Assert.Equal(["K"], statics.ChildNames());
        Assert.Equal(4, statics.AuxData()[0]);
        Assert.Equal(new[] { 1, 1 }, (int[])statics.AuxData()[1]!);
        Assert.True((bool)statics.AuxData()[2]!);
    }

    [Fact]
    public void UnflattenRebuildsTheRecordWithNewLeaves()
    {
        var def = Tree.Structure(new PtLinear(V(1, 2), V(3)));
        var rebuilt = Tree.Unflatten<PtLinear>(def, [V(10, 20), V(30)]);
        Assert.Equal(new float[] { 10, 20 }, rebuilt.W.ToArray<float>());
        Assert.Equal(new float[] { 30 }, rebuilt.B.ToArray<float>());
    }

    [Fact]
    public void MapOverARecordReturnsTheSameRecordType()
    {
        var p = new PtLinear(V(1, 2), V(3));
        PtLinear doubled = Tree.Map(t => t * 2, p);
        Assert.IsType<PtLinear>(doubled);
        Assert.Equal(new float[] { 2, 4 }, doubled.W.ToArray<float>());
        Assert.Equal(new float[] { 6 }, doubled.B.ToArray<float>());
        Assert.Equal(new float[] { 1, 2 }, p.W.ToArray<float>()); // the original is untouched

        var sum = Tree.Map((a, b) => a + b, p, doubled);
        Assert.Equal(new float[] { 3, 6 }, sum.W.ToArray<float>());
        var fma = Tree.Map((a, b, c) => a * b + c, p, p, p);
        Assert.Equal(new float[] { 12 }, fma.B.ToArray<float>());
    }

    [Fact]
    public void LeavesFollowDeclarationOrderWithPositionalParametersFirst()
    {
        var o = new PtOrdered(V(1), V(2)) { B = V(3) };
        var leaves = Tree.Leaves(o);
        Assert.Equal([1f, 2f, 3f], leaves.Select(t => t.ToArray<float>()[0]));
        Assert.Equal("PyTreeDef(PtOrdered(C=*, A=*, B=*))", Tree.Structure(o).ToString());
        var m = Tree.Map(t => -t, o);
        Assert.Equal(new float[] { -3 }, m.B.ToArray<float>());
        Assert.Equal(new float[] { -3 }, m.Sum.ToArray<float>()); // computed from the new C and A
    }

    [Fact]
    public void NestedRecordsFlattenDepthFirst()
    {
        var mlp = new PtMlp(new PtLinear(V(1), V(2)), new PtLinear(V(3), V(4)));
        var (leaves, def) = Tree.Flatten(mlp);
        Assert.Equal([1f, 2f, 3f, 4f], leaves.Select(t => t.ToArray<float>()[0]));
        Assert.Equal("PyTreeDef(PtMlp(L1=PtLinear(W=*, B=*), L2=PtLinear(W=*, B=*)))", def.ToString());
        var m = Tree.Map(t => t + 1, mlp);
        Assert.IsType<PtMlp>(m);
        Assert.Equal(new float[] { 5 }, m.L2.B.ToArray<float>());
    }

    [Fact]
    public void ContainersInsideARecord()
    {
        var c = new PtContainers(
            [V(1), V(2)],
            [V(3)],
            new Dictionary<string, Tensor> { ["z"] = V(5), ["a"] = V(4) },
            (V(6), V(7)),
            null);
        var (leaves, def) = Tree.Flatten(c);
        // The dictionary's leaves come in sorted key order: a (4) before z (5).
        Assert.Equal([1f, 2f, 3f, 4f, 5f, 6f, 7f], leaves.Select(t => t.ToArray<float>()[0]));
        Assert.Equal("PyTreeDef(PtContainers(Layers=[*, *], Extras=[*], Named={'a': *, 'z': *}, Pair=(*, *), Maybe=None))", def.ToString());

        var m = Tree.Map(t => t * 10, c);
        Assert.IsType<Tensor[]>(m.Layers);
        Assert.IsType<List<Tensor>>(m.Extras);
        Assert.IsType<Dictionary<string, Tensor>>(m.Named);
        Assert.Equal(new float[] { 20 }, m.Layers[1].ToArray<float>());
        Assert.Equal(new float[] { 30 }, m.Extras[0].ToArray<float>());
        Assert.Equal(new float[] { 50 }, m.Named["z"].ToArray<float>());
        Assert.Equal(new float[] { 70 }, m.Pair.Item2.ToArray<float>());
        Assert.Null(m.Maybe);
    }

    [Fact]
    public void StaticFieldIsPartOfTheStructure()
    {
        var relu = new PtDense(V(1, 2), "relu");
        var tanh = new PtDense(V(1, 2), "tanh");
        Assert.Single(Tree.Leaves(relu));
        var dr = Tree.Structure(relu);
        var dt = Tree.Structure(tanh);
        Assert.Equal("PyTreeDef(PtDense(W=*, static=['relu']))", dr.ToString());
        Assert.NotEqual(dr, dt);
        Assert.Equal(dr, Tree.Structure(new PtDense(V(5, 6), "relu")));
        Assert.Equal(dr.GetHashCode(), Tree.Structure(new PtDense(V(5, 6), "relu")).GetHashCode());

        var e = Assert.Throws<TreeStructureError>(() => Tree.Map((a, b) => a + b, relu, tanh));
        Assert.Equal(
            "Tree.Map: pytree structures differ:\n  PyTreeDef(PtDense(W=*, static=['relu']))\n  PyTreeDef(PtDense(W=*, static=['tanh']))\n" +
            "  first difference at tree: PtDense(W=*, static=['relu']) vs PtDense(W=*, static=['tanh'])", Msg(e));

        // Map keeps the static value.
        Assert.Equal("relu", Tree.Map(t => t * 3, relu).Activation);
    }

    [Fact]
    public void StaticOnPropertyParameterAndFieldAndArraysCompareByValue()
    {
        var a = new PtStatics(4, V(1));
        var b = new PtStatics(4, V(2)) { Strides = [1, 1] }; // a different array with the same values
        Assert.Equal(Tree.Structure(a), Tree.Structure(b));
        Assert.Equal(Tree.Structure(a).GetHashCode(), Tree.Structure(b).GetHashCode());
        Assert.Equal("PyTreeDef(PtStatics(K=*, static=[4, [1, 1], true]))", Tree.Structure(a).ToString());
        Assert.NotEqual(Tree.Structure(a), Tree.Structure(a with { Strides = [2, 2] }));
        Assert.NotEqual(Tree.Structure(a), Tree.Structure(a with { Features = 8 }));
        var m = Tree.Map((x, y) => x + y, a, b);
        Assert.Equal(4, m.Features);
        Assert.Equal(new float[] { 3 }, m.K.ToArray<float>());
    }

    [Fact]
    public void GenericRecordAndTypeNameInTheStructure()
    {
        var p = new PtPair<Tensor>(V(1), V(2));
        Assert.Equal("PyTreeDef(PtPair<Tensor>(First=*, Second=*))", Tree.Structure(p).ToString());
        var m = Tree.Map(t => t * 2, p);
        Assert.Equal(new float[] { 4 }, m.Second.ToArray<float>());

        var nested = new PtPair<PtLinear>(new PtLinear(V(1), V(2)), new PtLinear(V(3), V(4)));
        Assert.Equal(4, Tree.Leaves(nested).Count);
        Assert.Equal(new float[] { 5 }, Tree.Map(t => t + 1, nested).Second.B.ToArray<float>());
    }

    [Fact]
    public void RecordStructIsAPytree()
    {
        var p = new PtPoint(V(1), V(2));
        Assert.Equal("PyTreeDef(PtPoint(X=*, Y=*))", Tree.Structure(p).ToString());
        PtPoint m = Tree.Map(t => t - 1, p);
        Assert.Equal(new float[] { 0 }, m.X.ToArray<float>());
        Assert.Equal(new float[] { 1 }, m.Y.ToArray<float>());
    }

    [Fact]
    public void ClassIsCopiedNotMutated()
    {
        var h = new PtHolder { Value = V(1, 2), Tag = "h" };
        h.SetOther(V(3));
        Assert.Equal("PyTreeDef(PtHolder(Value=*, Other=*, static=['h']))", Tree.Structure(h).ToString());
        var m = Tree.Map(t => t * 2, h);
        Assert.NotSame(h, m);
        Assert.Equal(new float[] { 2, 4 }, m.Value.ToArray<float>());
        Assert.Equal(new float[] { 6 }, m.Other.ToArray<float>());
        Assert.Equal("h", m.Tag);
        Assert.Equal(new float[] { 1, 2 }, h.Value.ToArray<float>());
    }

    [Fact]
    public void NestedTypeInAPartialClass()
    {
        var n = new Nested(V(1), 3);
        Assert.Equal("PyTreeDef(Nested(Value=*, static=[3]))", Tree.Structure(n).ToString());
        Assert.Equal(new float[] { 2 }, Tree.Map(t => t + 1, n).Value.ToArray<float>());
        Assert.Equal(3, Tree.Map(t => t + 1, n).Level);
    }

    [Fact]
    public void InheritedChildrenComeFirstAndMapKeepsTheDerivedType()
    {
        var d = new PtDerived(V(1), V(2));
        Assert.Equal("PyTreeDef(PtDerived(A=*, B=*))", Tree.Structure(d).ToString());
        PtBase asBase = d;
        var m = Tree.Map(t => t * 5, asBase);
        var md = Assert.IsType<PtDerived>(m);
        Assert.Equal(new float[] { 5 }, md.A.ToArray<float>());
        Assert.Equal(new float[] { 10 }, md.B.ToArray<float>());
    }

    [Fact]
    public void ScalarChildComesBackAsAScalar()
    {
        var s = new PtScaled(V(1), 2.5f);
        var m = Tree.Map(t => t * 2, s);
        Assert.Equal(5f, m.Scale);
        Assert.Equal(new float[] { 2 }, m.X.ToArray<float>());
    }

    [Fact]
    public void ScalarChildThatBecomesATensorExplainsTheFix()
    {
        var def = Tree.Structure(new PtScaled(V(1), 2.5f));
        var e = Assert.Throws<TreeStructureError>(() => Tree.Unflatten(def, [V(1), V(1, 2)]));
        Assert.Equal(
            "Unflatten: PtScaled.Scale is declared float but its new value is a tensor f32[2]. A C# float can hold neither a tracer nor " +
            "a non-scalar or differently typed tensor: declare it as Tensor so that transforms can trace and change it, or make it [Static] configuration.",
            Msg(e));
    }

    [Fact]
    public void ObjectChildHoldingANonPytreeReportsItsPath()
    {
        var bag = new PtBag(new[] { new Dictionary<string, object> { ["a"] = 'c' } });
        var e = Assert.Throws<TreeStructureError>(() => Tree.Flatten(bag));
        Assert.StartsWith("tree.Payload[0]['a'] of type Char is not a pytree: pytrees are made of Tensor, float, double, int, long, bool, null, " +
                          "value tuples, arrays, List<T>, Dictionary<string, T> and types marked [Pytree].", Msg(e));
        Assert.Contains("[Static]", Msg(e));
    }

    [Fact]
    public void RecordsAreTracedLeafByLeaf()
    {
        var j = Jax.MakeJaxpr((PtLinear p) => Tree.Map(Np.Sin, p))(new PtLinear(V(1, 2), V(3)));
        Assert.Equal("{ lambda ; a:f32[2] b:f32[1]. let c:f32[2] = sin a; d:f32[1] = sin b in (c, d) }", j.ToString());
    }

    [Fact]
    public void ScalarChildCannotHoldATracer()
    {
        var e = Assert.Throws<TreeStructureError>(() => Jax.MakeJaxpr((PtScaled s) => s.X * s.Scale)(new PtScaled(V(1), 2f)));
        Assert.StartsWith("Unflatten: PtScaled.Scale is declared float but its new value is a traced value f32[]. " +
                          "A C# float can hold neither a tracer nor a non-scalar or differently typed tensor: declare it as Tensor", Msg(e));
    }

    // ----- built-in containers -----

    [Fact]
    public void JaxStyleStructureOfTupleListDict()
    {
        // jax.tree.structure((1, [2, 3], {'b': 4})) -> PyTreeDef((*, [*, *], {'b': *}))
        var tree = (1, new List<int> { 2, 3 }, new Dictionary<string, int> { ["b"] = 4 });
        var (leaves, def) = Tree.Flatten(tree);
        Assert.Equal("PyTreeDef((*, [*, *], {'b': *}))", def.ToString());
        Assert.Equal([1.0, 2.0, 3.0, 4.0], leaves.Select(t => t.Item()));
        Assert.Equal(4, def.NumLeaves);
    }

    [Fact]
    public void ValueTuplesRoundTripIncludingLongOnes()
    {
        var t2 = (V(1), V(2));
        var m2 = Tree.Map(t => t + 1, t2);
        Assert.Equal(new float[] { 3 }, m2.Item2.ToArray<float>());
        Assert.Equal("PyTreeDef((*,))", Tree.Structure(ValueTuple.Create(V(1))).ToString());

        // Nine items: C# nests items 8 and 9 in a Rest tuple; the tree has nine leaves all the same.
        var t9 = (V(1), V(2), V(3), V(4), V(5), V(6), V(7), V(8), V(9));
        var (leaves, def) = Tree.Flatten(t9);
        Assert.Equal(9, leaves.Count);
        Assert.Equal("PyTreeDef((*, *, *, *, *, *, *, *, *))", def.ToString());
        var m9 = Tree.Map(t => t * 2, t9);
        Assert.Equal(new float[] { 16 }, m9.Item8.ToArray<float>());
        Assert.Equal(new float[] { 18 }, m9.Item9.ToArray<float>());
    }

    [Fact]
    public void ArraysAndListsKeepTheirTypes()
    {
        Tensor[] arr = [V(1), V(2)];
        var ma = Tree.Map(t => t * 3, arr);
        Assert.IsType<Tensor[]>(ma);
        Assert.Equal(new float[] { 6 }, ma[1].ToArray<float>());

        var list = new List<Tensor> { V(1), V(2), V(3) };
        var ml = Tree.Map(t => -t, list);
        Assert.IsType<List<Tensor>>(ml);
        Assert.Equal(new float[] { -3 }, ml[2].ToArray<float>());
        Assert.Equal("PyTreeDef([*, *, *])", Tree.Structure(list).ToString());
    }

    [Fact]
    public void DictionaryFlattensInSortedKeyOrder()
    {
        var d = new Dictionary<string, Tensor> { ["b"] = V(2), ["c"] = V(3), ["a"] = V(1) };
        var (leaves, def) = Tree.Flatten(d);
        Assert.Equal([1f, 2f, 3f], leaves.Select(t => t.ToArray<float>()[0]));
        Assert.Equal("PyTreeDef({'a': *, 'b': *, 'c': *})", def.ToString());
        var m = Tree.Map(t => t * 10, d);
        Assert.Equal(new float[] { 20 }, m["b"].ToArray<float>());
        // Insertion order does not matter for the structure.
        var d2 = new Dictionary<string, Tensor> { ["a"] = V(1), ["c"] = V(3), ["b"] = V(2) };
        Assert.Equal(def, Tree.Structure(d2));
        // Different keys are a different structure.
        Assert.NotEqual(def, Tree.Structure(new Dictionary<string, Tensor> { ["a"] = V(1), ["b"] = V(2), ["d"] = V(3) }));
    }

    [Fact]
    public void NullAndScalars()
    {
        var (leaves, def) = Tree.Flatten(null);
        Assert.Empty(leaves);
        Assert.Equal("PyTreeDef(None)", def.ToString());
        Assert.Null(Tree.Unflatten(def, []));

        var tree = (1.5f, 2.5, 3, 4L, true, (Tensor?)null);
        var (sl, sd) = Tree.Flatten(tree);
        Assert.Equal(5, sl.Count);
        Assert.Equal("PyTreeDef((*, *, *, *, *, None))", sd.ToString());
        var back = Tree.Unflatten<(float, double, int, long, bool, Tensor?)>(sd, sl);
        Assert.Equal(tree, back);
        var doubled = Tree.Map(t => t * 2, (1.5f, 3));
        Assert.Equal((3f, 6), doubled);
    }

    [Fact]
    public void ScalarChangedToAnotherKindIsNotTruncated()
    {
        // An int leaf multiplied by 0.5 is a float tensor: it cannot go back into an int slot, and silently truncating
        // it to 0 would be wrong.
        var e = Assert.Throws<TreeStructureError>(() => Tree.Map(t => t * 0.5f, (1, 2)));
        Assert.StartsWith("Unflatten: tree.Item1 is declared int but its new value is a tensor f32[]", Msg(e));
        // In an untyped slot the tensor is returned.
        var o = Tree.Map(t => t * 0.5f, new object[] { 1 });
        Assert.Equal(0.5f, Assert.IsType<Tensor>(o[0]).Item<float>());
    }

    [Fact]
    public void MismatchedStructuresShowBothAndWhereTheyDiffer()
    {
        var a = new List<object?> { V(1), new[] { V(2) } };
        var b = new List<object?> { V(1), new[] { V(2), V(3) } };
        var e = Assert.Throws<TreeStructureError>(() => Tree.Map((x, y) => x + y, a, b));
        Assert.Equal("Tree.Map: pytree structures differ:\n  PyTreeDef([*, [*]])\n  PyTreeDef([*, [*, *]])\n" +
                     "  first difference at tree[1]: [*] vs [*, *]", Msg(e));

        var r1 = new PtMlp(new PtLinear(V(1), V(2)), new PtLinear(V(3), V(4)));
        var r2 = new PtMlp(new PtLinear(V(1), V(2)), new PtLinear(V(3), null!));
        var e2 = Assert.Throws<TreeStructureError>(() => Tree.Map((x, y) => x + y, r1, r2));
        Assert.Contains("PyTreeDef(PtMlp(L1=PtLinear(W=*, B=*), L2=PtLinear(W=*, B=*)))", Msg(e2));
        Assert.Contains("PyTreeDef(PtMlp(L1=PtLinear(W=*, B=*), L2=PtLinear(W=*, B=None)))", Msg(e2));
        Assert.EndsWith("first difference at tree.L2.B: * vs None", Msg(e2));
    }

    [Fact]
    public void UnflattenWithTheWrongNumberOfLeaves()
    {
        var def = Tree.Structure(new PtLinear(V(1), V(2)));
        var e = Assert.Throws<TreeStructureError>(() => Tree.Unflatten(def, [V(1)]));
        Assert.Equal("Unflatten: the structure PyTreeDef(PtLinear(W=*, B=*)) has 2 leaves, got 1", Msg(e));
    }

    [Fact]
    public void NonPytreeValuesNameTheirPathAndTheFix()
    {
        var e = Assert.Throws<TreeStructureError>(() => Tree.Flatten((V(1), "hello")));
        Assert.Equal("tree.Item2 of type string is not a pytree: pytrees are made of Tensor, float, double, int, long, bool, null, " +
                     "value tuples, arrays, List<T>, Dictionary<string, T> and types marked [Pytree]. Configuration values such as this " +
                     "belong in a [Static] member of a [Pytree] type (they are then part of the tree's structure).", Msg(e));

        var e2 = Assert.Throws<TreeStructureError>(() => Tree.Leaves(new { W = V(1) }));
        Assert.Contains("is your own type, declare it 'partial' and mark it [Pytree]", Msg(e2));

        var e3 = Assert.Throws<TreeStructureError>(() => Tree.Flatten(new Dictionary<string, Tensor[,]> { ["w"] = new Tensor[1, 1] }));
        Assert.StartsWith("tree['w'] of type Tensor[,] is not a pytree", Msg(e3));
    }

    [Fact]
    public void ReadOnlyCollectionsAreRejectedAtFlatten()
    {
        var ro = new List<Tensor> { V(1) }.AsReadOnly();
        var e = Assert.Throws<TreeStructureError>(() => Tree.Flatten(ro));
        Assert.Equal("tree of type ReadOnlyCollection<Tensor> is a read-only or fixed-size list, which Unflatten cannot rebuild; use an array or List<T>", Msg(e));
    }
}
