(function(){
 var box=document.getElementById('table-data'); if(!box) return;
 var d=JSON.parse(box.textContent), cols=d.columns, rows=d.rows, flags=d.flags;
 var body=document.querySelector('#per-event tbody'), info=document.getElementById('pager-info');
 var filter=document.getElementById('filter'), size=document.getElementById('page-size');
 var state={page:0,key:0,dir:1,hit:-1}, view=[];
 function fmt(v,c){ if(v===null) return ''; return c.digits===null? v.toLocaleString('en'): v.toFixed(c.digits); }
 function build(){
  var bit=+filter.value; view=[];
  for(var i=0;i<rows.length;i++){ if(bit===0||(flags[i]&bit)) view.push(i); }
  var k=state.key, s=state.dir;
  view.sort(function(a,b){var x=rows[a][k],y=rows[b][k]; return x<y?-s:x>y?s:a-b;});
 }
 function draw(){
  var n=+size.value, pages=Math.max(1,Math.ceil(view.length/n));
  state.page=Math.min(Math.max(state.page,0),pages-1);
  var html=[], lo=state.page*n, hi=Math.min(view.length,lo+n);
  for(var j=lo;j<hi;j++){ var r=rows[view[j]], cells=[];
   for(var c=0;c<cols.length;c++){ var t=fmt(r[c],cols[c]);
    if(c===0 && d.shown.indexOf(r[0])>=0) t='<a href="#event-'+r[0]+'">'+t+'</a>';
    cells.push('<td>'+t+'</td>'); }
   html.push('<tr'+(r[0]===state.hit?' class="hit"':'')+'>'+cells.join('')+'</tr>'); }
  body.innerHTML=html.join('');
  heads.forEach(function(th,c){ th.className=(c===state.key)?(state.dir>0?'asc':'desc'):''; });
  var L=function(v){return v.toLocaleString('en');};
  info.textContent=view.length? ('events '+L(lo+1)+'–'+L(hi)+' of '+L(view.length)+' (page '+L(state.page+1)+' of '+L(pages)+')')
   : 'no event matches';
 }
 var heads=Array.prototype.slice.call(document.querySelectorAll('#per-event th'));
 heads.forEach(function(th,c){ th.title='click to sort by this column (again to reverse)';
  th.addEventListener('click',function(){ state.dir=(state.key===c)?-state.dir:(c===0?1:-1); state.key=c;
   state.page=0; build(); draw(); });
 });
 filter.addEventListener('change',function(){state.page=0;build();draw();});
 size.addEventListener('change',function(){state.page=0;draw();});
 document.getElementById('prev').addEventListener('click',function(){state.page--;draw();});
 document.getElementById('next').addEventListener('click',function(){state.page++;draw();});
 document.getElementById('goto').addEventListener('change',function(e){
  var ev=parseInt(e.target.value,10); if(isNaN(ev)) return;
  filter.value='0'; build(); var at=-1;
  for(var j=0;j<view.length;j++){ if(rows[view[j]][0]===ev){at=j;break;} }
  if(at<0){ info.textContent='no event '+ev; return; }
  state.hit=ev; state.page=Math.floor(at/(+size.value)); draw();
 });
 build(); draw();
})();
